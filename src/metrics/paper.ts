/** Mahbod et al., "A two-stage U-Net algorithm for segmentation of nuclei in H&E-stained tissues", ECDP 2019, Table 1: AJI on the Kumar test split, as fractions. */
export const PAPER_AJI = { all: 0.5687, seen: 0.5668, unseen: 0.5713 } as const;
export const PAPER_CITATION = 'Mahbod et al. 2019, Table 1';
/**
 * The paper's stage-1 U-Net alone, AJI over all test images, with the ground-truth modification
 * (erosion) on and off, as issue 14 quotes them from Table 1 and the text after it. Its
 * per-subset values, and the paper's Dice and F1, are not recorded in this file.
 */
export const PAPER_UNET_AJI_ALL = { erosion: 0.4939, noErosion: 0.4441 } as const;
