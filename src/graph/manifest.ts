// Effect manifest: the zod schema, its inferred type, and a validator whose single error type
// lists every problem with its JSON path (used when loading and when serving an effect).

import { z } from "zod";

export interface ManifestIssue {
  /** JSON path such as `weights.sha256` or `template.landmarks[2].x`; `(root)` for the whole. */
  path: string;
  message: string;
}

export class ManifestError extends Error {
  override name = "ManifestError";
  constructor(readonly issues: ManifestIssue[]) {
    super(
      `invalid effect manifest (${issues.length} problem${issues.length === 1 ? "" : "s"}):\n` +
        issues.map((i) => `  ${i.path}: ${i.message}`).join("\n"),
    );
  }
}

// Official semver.org grammar. Length is capped first (aborting) so hostile input stays cheap.
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

const text = (max: number) => z.string().min(1, { error: "must not be empty" }).max(max);
const positive = () => z.number().gt(0, { error: "must be > 0" });
const rgb = (item: z.ZodNumber) => z.tuple([item, item, item]);

/** One canonical landmark: a MediaPipe FaceLandmarker index and where it sits in the crop. */
const TemplatePoint = z.strictObject({
  /** MediaPipe face mesh index (468 mesh points + 10 iris points). */
  index: z.int().min(0).max(477),
  /** Position in crop coordinates: (0,0) top-left, (1,1) bottom-right of the aligned crop. */
  x: z.number().min(0).max(1),
  y: z.number().min(0).max(1),
});

export const EffectManifestSchema = z.strictObject({
  id: z.string().max(64, { abort: true }).regex(/^[a-z0-9][a-z0-9-]{0,63}$/, {
    error: "expected a slug: lowercase letters, digits and '-', 1-64 chars, not starting with '-'",
  }),
  name: text(100),
  version: z.string().max(64, { abort: true }).regex(SEMVER, {
    error: "expected a semver version like 1.2.3",
  }),
  description: z.string().max(2000),
  /** Side of the square crop fed to the network. */
  inputSize: z.int().min(128).max(512).multipleOf(16, { error: "must be a multiple of 16" }),
  /** Applied per channel as (x - mean) / std to RGB in [0,1]. */
  normalization: z.strictObject({ mean: rgb(z.number()), std: rgb(positive()) }),
  template: z.strictObject({
    /** At least 3 points so the similarity (Umeyama) fit is over-determined and robust. */
    landmarks: z.array(TemplatePoint).min(3, { error: "needs at least 3 landmarks" }).superRefine(
      (points, ctx) => {
        const seen = new Set<number>();
        points.forEach((p, i) => {
          if (seen.has(p.index)) {
            ctx.addIssue({
              code: "custom",
              path: [i, "index"],
              message: `duplicate landmark index ${p.index}`,
            });
          }
          seen.add(p.index);
        });
      },
    ),
    /** Crop side relative to the template's extent: > 1 keeps context around the face. */
    cropScale: positive(),
  }),
  output: z.strictObject({ mode: z.literal("residual_mask") }),
  blend: z.strictObject({ feather: z.number().min(0).max(0.5) }),
  /** One-Euro filter parameters for landmark smoothing. */
  smoothing: z.strictObject({
    minCutoff: positive(),
    beta: z.number().min(0),
    dCutoff: positive(),
  }),
  weights: z.strictObject({
    url: text(2048),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, { error: "expected 64 lowercase hex chars" }),
    bytes: z.int().gt(0, { error: "must be a positive integer" }),
    dtype: z.enum(["int8", "f16", "f32"]),
  }),
  provenance: z.strictObject({ teacher: text(500), note: z.string().max(2000).optional() }),
  /** Student vs teacher on held-out crops, if measured. */
  quality: z.strictObject({
    psnr: z.number().min(0),
    ssim: z.number().min(-1).max(1),
    /** Landmarker before vs after the effect on held-out photos, in inter-ocular distances. */
    landmarkDrift: z.strictObject({
      mean: z.number().min(0),
      worst: z.number().min(0),
      /** The landmarker's own jitter on the same faces under ±1 level of noise. */
      floor: z.number().min(0),
      /** Mean over the large faces only (see src/distill/drift.ts), and how many there were. */
      large: z.number().min(0),
      largeFaces: z.int().min(0),
      /** The same for a uniform tint (colour only) on the same faces: the landmarker's yardstick. */
      tintReference: z.strictObject({ mean: z.number().min(0), large: z.number().min(0) })
        .optional(),
      faces: z.int().min(0),
      lost: z.int().min(0),
    }).optional(),
  }).optional(),
});

export type EffectManifest = z.infer<typeof EffectManifestSchema>;

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (typeof seg === "string" && /^[A-Za-z_$][\w$]*$/.test(seg)) {
      out += out ? `.${seg}` : seg;
    } else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out || "(root)";
}

function toIssues(issues: readonly z.core.$ZodIssue[]): ManifestIssue[] {
  return issues.flatMap((iss) => {
    // One issue per unknown key, at the key's own path, reads better than a list at the parent.
    if (iss.code === "unrecognized_keys") {
      return iss.keys.map((k) => ({
        path: formatPath([...iss.path, k]),
        message: "unknown field",
      }));
    }
    const missing = iss.code === "invalid_type" && iss.input === undefined;
    return [{
      path: formatPath(iss.path),
      message: missing ? `required ${iss.expected} is missing` : iss.message,
    }];
  });
}

/** Validate a manifest (object or JSON text). Throws ManifestError, and nothing else. */
export function parseManifest(json: unknown): EffectManifest {
  let value = json;
  if (typeof json === "string") {
    try {
      value = JSON.parse(json);
    } catch (e) {
      throw new ManifestError([{
        path: "(root)",
        message: `invalid JSON: ${(e as Error).message}`,
      }]);
    }
  }
  let result;
  try {
    result = EffectManifestSchema.safeParse(value, { reportInput: true });
  } catch (e) {
    // Defensive: hostile objects (throwing getters, proxies) must still yield a ManifestError.
    const why = e instanceof Error ? e.message : typeof e;
    throw new ManifestError([{ path: "(root)", message: `cannot be validated: ${why}` }]);
  }
  if (!result.success) throw new ManifestError(toIssues(result.error.issues));
  return result.data;
}
