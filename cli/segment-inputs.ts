// What `segment` is given, sorted into plain images (segmented in one piece) and whole slides (the slide
// workflow, cli/segment-slides.ts). Reads file headers only; no Temporal or TensorFlow is loaded here.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../src/errors.ts';
import { isWholeSlide } from '../src/slide/index.ts';

/**
 * File name endings a folder is searched for: the whole-slide formats OpenSlide reads (a DICOM slide is
 * a folder of .dcm files, so .dcm is not searched for; pass one of its files) and plain images. Which of
 * them is a slide is then decided by content (isWholeSlide), as for a file given by name.
 */
export const FOLDER_EXTENSIONS = /\.(svs|tiff?|ndpi|vms|vmu|mrxs|scn|bif|svslide|png|jpe?g)$/i;

/** The files of a folder (not recursive) that `segment` takes, sorted; an InputError when there are none. */
export function filesInFolder(dir: string): string[] {
  const files = readdirSync(dir)
    .filter((f) => FOLDER_EXTENSIONS.test(f) && statSync(join(dir, f)).isFile())
    .sort()
    .map((f) => join(dir, f));
  if (files.length === 0) {
    throw new InputError(
      dir,
      `no slide or image files in this folder (looked for ${FOLDER_EXTENSIONS.source})`,
    );
  }
  return files;
}

/**
 * Splits `segment`'s arguments into images (segmented in one piece) and whole slides (the slide
 * workflow): a folder stands for its files (filesInFolder); a file OpenSlide opens is a slide, a PNG,
 * JPEG or stripped TIFF an image. A file given by name that cannot be classified stops with its error;
 * a folder's file that cannot is sent to the slide workflow, which reports it in its own line while the
 * folder's other files go on.
 */
export async function sortInputs(args: readonly string[]): Promise<{ images: string[]; slides: string[] }> {
  const images: string[] = [];
  const slides: string[] = [];
  for (const a of args) {
    const inFolder = existsSync(a) && statSync(a).isDirectory();
    for (const file of inFolder ? filesInFolder(a) : [a]) {
      let slide: boolean;
      try {
        slide = await isWholeSlide(file);
      } catch (err) {
        if (!inFolder || !(err instanceof InputError)) throw err;
        slide = true;
      }
      (slide ? slides : images).push(file);
    }
  }
  return { images, slides };
}
