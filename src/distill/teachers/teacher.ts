// What a teacher is: a slow, high-quality effect on an aligned face crop that produces the
// targets a fast student network learns to imitate. CPU, seconds per crop is fine.

import type { Landmarks } from "../../face/landmarks.ts";
import type { RgbaImage } from "../../media/codec.ts";

export interface Teacher {
  /** Slug, as used in manifests and file names. */
  readonly id: string;
  readonly name: string;
  readonly description: string;
  /** True when the output moves features (a warp); otherwise edges stay where they were. */
  readonly geometric: boolean;
  /**
   * The stylised crop, same size as `crop`. `landmarks` are the face's 478 landmarks in crop
   * pixels (flat x, y (, z) or a list of points), e.g. from `deno task prepare`'s sidecar JSON.
   */
  apply(crop: RgbaImage, landmarks: Landmarks): RgbaImage;
}
