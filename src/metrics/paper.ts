/** Mahbod et al., "A two-stage U-Net algorithm for segmentation of nuclei in H&E-stained tissues", ECDP 2019, Table 1: AJI on the Kumar test split, as fractions. */
export const PAPER_AJI = { all: 0.5687, seen: 0.5668, unseen: 0.5713 } as const;
export const PAPER_CITATION = 'Mahbod et al. 2019, Table 1';
