// Derives the canonical face geometry embedded in src/face/: the mean aligned face shape of the
// near-frontal faces found by `deno task prepare`, its left/right mirror pairing, and the template.
//
//   deno task prepare            # landmarks → out/data/landmarks/
//   deno run -A src/distill/derive_template.ts [--write]
//
// Method. (1) Keep near-frontal faces: nose tip within 6% of the inter-ocular distance of the eye
// midpoint, and cheek depths (234 vs 454) within 20%. (2) Generalised Procrustes: align each face's
// 468 mesh points to the running mean with a similarity fit (Umeyama), re-normalise the mean, repeat.
// (3) Mirror pairing: reflect the mean (x, y, z) about its midline and match points one to one
// (Hungarian assignment on squared distance); checked to be an involution that maps the contour
// loops of topology.ts onto each other. (4) Symmetrise the mean: average it with its mirror image.
// (5) Template frame: the unit square whose side is the face oval's height, centred on the oval's
// bounding box; the template points' positions in that frame are the numbers in template.ts.
// With --write, src/face/canonical.ts (mean shape + mirror table) is regenerated.

import { join } from "node:path";
import { fitSimilarity } from "../face/similarity.ts";
import {
  FACE_OVAL,
  LEFT_BROW,
  LEFT_EYE,
  LEFT_IRIS,
  LIPS_INNER,
  LIPS_OUTER,
  RIGHT_BROW,
  RIGHT_EYE,
  RIGHT_IRIS,
} from "../face/topology.ts";

const N = 478;
// Template points: eye corners, nose bridge/tip/base, alae, mouth corners, chin, cheeks, forehead.
const TEMPLATE_INDICES = [10, 168, 6, 1, 2, 33, 133, 362, 263, 98, 327, 61, 291, 234, 454, 152];

type P3 = [number, number, number];

const dir = "out/data/landmarks";
const faces: { source: string; pts: P3[] }[] = [];
for (const set of Deno.readDirSync(dir)) {
  for (const f of Deno.readDirSync(join(dir, set.name))) {
    const rec = JSON.parse(Deno.readTextFileSync(join(dir, set.name, f.name)));
    for (const flat of rec.faces as number[][]) {
      const pts = Array.from({ length: N }, (_, i) => flat.slice(3 * i, 3 * i + 3) as P3);
      faces.push({ source: rec.source, pts });
    }
  }
}
faces.sort((a, b) => a.source < b.source ? -1 : 1);

const frontal = faces.filter(({ pts }) => {
  const l = pts[33], r = pts[263], n = pts[1];
  const iod = Math.hypot(r[0] - l[0], r[1] - l[1]);
  const off = (n[0] - (l[0] + r[0]) / 2) / iod;
  const cheeks = (pts[234][2] - pts[454][2]) / iod;
  return Math.abs(off) < 0.06 && Math.abs(cheeks) < 0.2;
});
console.log(`${faces.length} faces, ${frontal.length} near-frontal:`);
for (const f of frontal) console.log(`  ${f.source}`);

// ---- Generalised Procrustes on the 468 mesh points (x, y); z is scaled along. ----
const MESH = 468;
function normalise(shape: P3[]): P3[] {
  // Centre on the mesh centroid, unit inter-ocular distance, eye line horizontal.
  const cx = shape.slice(0, MESH).reduce((s, p) => s + p[0], 0) / MESH;
  const cy = shape.slice(0, MESH).reduce((s, p) => s + p[1], 0) / MESH;
  const l = shape[33], r = shape[263];
  const ang = Math.atan2(r[1] - l[1], r[0] - l[0]);
  const s = 1 / Math.hypot(r[0] - l[0], r[1] - l[1]);
  const c = Math.cos(-ang) * s, n = Math.sin(-ang) * s;
  return shape.map(([x, y, z]) => {
    const u = x - cx, v = y - cy;
    return [c * u - n * v, n * u + c * v, z * s];
  });
}
function alignTo(shape: P3[], ref: P3[]): P3[] {
  const fit = fitSimilarity(
    shape.slice(0, MESH).map((p) => [p[0], p[1]] as const),
    ref.slice(0, MESH).map((p) => [p[0], p[1]] as const),
  );
  const [a, b, c, d, e, f] = fit.forward;
  return shape.map(([x, y, z]) => [a * x + b * y + c, d * x + e * y + f, z * fit.scale]);
}
let mean = normalise(frontal[0].pts);
for (let iter = 0; iter < 20; iter++) {
  const aligned = frontal.map((f) => alignTo(f.pts, mean));
  const next: P3[] = Array.from({ length: N }, (_, i) => {
    const s: P3 = [0, 0, 0];
    for (const a of aligned) for (let k = 0; k < 3; k++) s[k] += a[i][k] / aligned.length;
    return s;
  });
  const z0 = next.slice(0, MESH).reduce((s, p) => s + p[2], 0) / MESH;
  mean = normalise(next.map(([x, y, z]) => [x, y, z - z0]));
}

// ---- Mirror pairing by optimal assignment of the reflected mean. ----
// Midline: the x that best reflects the mean onto itself is the mean x (centroid), by symmetry.
const mx = mean.reduce((s, p) => s + p[0], 0) / N;
function hungarian(cost: number[][]): number[] {
  // Minimum-cost perfect matching (potentials + shortest augmenting paths), rows → columns.
  const n = cost.length, INF = 1e18;
  const u = new Float64Array(n + 1), v = new Float64Array(n + 1);
  const p = new Int32Array(n + 1), way = new Int32Array(n + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    const minv = new Float64Array(n + 1).fill(INF);
    const used = new Uint8Array(n + 1);
    do {
      used[j0] = 1;
      const i0 = p[j0];
      let delta = INF, j1 = 0;
      for (let j = 1; j <= n; j++) {
        if (used[j]) continue;
        const cur = cost[i0 - 1][j - 1] - u[i0] - v[j];
        if (cur < minv[j]) (minv[j] = cur), (way[j] = j0);
        if (minv[j] < delta) (delta = minv[j]), (j1 = j);
      }
      for (let j = 0; j <= n; j++) {
        if (used[j]) (u[p[j]] += delta), (v[j] -= delta);
        else minv[j] -= delta;
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0);
  }
  const match = new Array<number>(n);
  for (let j = 1; j <= n; j++) match[p[j] - 1] = j - 1;
  return match;
}
// Mesh and iris points are matched separately (an iris point must mirror to an iris point).
function mirrorOf(indices: number[]): Map<number, number> {
  const cost = indices.map((i) => {
    const [x, y, z] = mean[i];
    const rx = 2 * mx - x;
    return indices.map((j) =>
      (mean[j][0] - rx) ** 2 + (mean[j][1] - y) ** 2 + (mean[j][2] - z) ** 2
    );
  });
  const m = hungarian(cost);
  return new Map(indices.map((i, k) => [i, indices[m[k]]]));
}
const mirrorMap = new Map([
  ...mirrorOf(Array.from({ length: MESH }, (_, i) => i)),
  ...mirrorOf(Array.from({ length: 10 }, (_, i) => MESH + i)),
]);
const MIRROR = Array.from({ length: N }, (_, i) => mirrorMap.get(i)!);

// ---- Checks ----
const problems: string[] = [];
MIRROR.forEach((j, i) => {
  if (MIRROR[j] !== i) problems.push(`not an involution at ${i} → ${j} → ${MIRROR[j]}`);
});
const sameSet = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && [...a].map((i) => MIRROR[i]).sort().join() === [...b].sort().join();
const pairs: [string, readonly number[], readonly number[]][] = [
  ["oval", FACE_OVAL, FACE_OVAL],
  ["lips outer", LIPS_OUTER, LIPS_OUTER],
  ["lips inner", LIPS_INNER, LIPS_INNER],
  ["eyes", RIGHT_EYE, LEFT_EYE],
  ["brows", RIGHT_BROW, LEFT_BROW],
  ["irises", RIGHT_IRIS, LEFT_IRIS],
];
for (const [name, a, b] of pairs) if (!sameSet(a, b)) problems.push(`${name} do not mirror`);
for (const [a, b] of [[33, 263], [133, 362], [61, 291], [234, 454], [468, 473], [98, 327]]) {
  if (MIRROR[a] !== b) problems.push(`expected ${a} ↔ ${b}, got ${a} ↔ ${MIRROR[a]}`);
}
for (const i of [10, 168, 6, 1, 2, 0, 13, 14, 17, 152]) {
  if (MIRROR[i] !== i) problems.push(`midline point ${i} mirrors to ${MIRROR[i]}`);
}
const selfCount = MIRROR.filter((j, i) => j === i).length;
let worst = 0;
MIRROR.forEach((j, i) => {
  worst = Math.max(worst, Math.hypot(2 * mx - mean[i][0] - mean[j][0], mean[i][1] - mean[j][1]));
});
console.log(
  `mirror: ${selfCount} midline points, worst pair asymmetry ${worst.toFixed(3)} IOD; ` +
    (problems.length ? `PROBLEMS:\n  ${problems.join("\n  ")}` : "all checks pass"),
);

// ---- Symmetrise, then express in the template frame. ----
const sym: P3[] = mean.map(([x, y, z], i) => {
  const [xm, ym, zm] = mean[MIRROR[i]];
  return [((x - mx) + (mx - xm)) / 2, (y + ym) / 2, (z + zm) / 2];
});
const ovalX = FACE_OVAL.map((i) => sym[i][0]), ovalY = FACE_OVAL.map((i) => sym[i][1]);
const top = Math.min(...ovalY), bottom = Math.max(...ovalY);
const side = bottom - top;
const cy = (top + bottom) / 2;
const toFrame = ([x, y]: P3): [number, number] => [0.5 + x / side, 0.5 + (y - cy) / side];
console.log(
  `oval: width ${((Math.max(...ovalX) - Math.min(...ovalX)) / side).toFixed(3)} of its height; ` +
    `inter-ocular ${(1 / side).toFixed(4)} of the frame`,
);

const r4 = (v: number) => Math.round(v * 10_000) / 10_000;
console.log("\ntemplate landmarks:");
for (const i of TEMPLATE_INDICES) {
  const [x, y] = toFrame(sym[i]);
  console.log(`    { index: ${i}, x: ${r4(x)}, y: ${r4(y)} },`);
}

// Per-face misfit of the template (in inter-ocular units) as a sanity check of rigidity.
const tplPts = TEMPLATE_INDICES.map((i) => toFrame(sym[i]));
for (const f of faces) {
  const fit = fitSimilarity(
    TEMPLATE_INDICES.map((i) => [f.pts[i][0], f.pts[i][1]] as const),
    tplPts,
  );
  console.log(`  misfit ${(fit.rms * side).toFixed(3)} IOD  ${f.source}`);
}

if (Deno.args.includes("--write")) {
  const mesh = sym.map((p) => toFrame(p).map(r4)).flat();
  const lines = (xs: number[], per: number) =>
    Array.from(
      { length: Math.ceil(xs.length / per) },
      (_, k) => "  " + xs.slice(k * per, k * per + per).join(", ") + ",",
    )
      .join("\n");
  const text = `// deno-fmt-ignore-file
// Generated by src/distill/derive_template.ts from the near-frontal faces in ../shared/data (see there):
// the symmetrised mean face shape in the template frame, and MediaPipe's left/right landmark pairing.

/** Mean 478-point face in the template frame (unit square = face-oval height), interleaved x, y. */
export const CANONICAL_FACE: Float32Array = new Float32Array([
${lines(mesh, 12)}
]);

/** MIRROR[i] is the landmark that i becomes when the face is flipped left ↔ right. */
export const MIRROR: readonly number[] = [
${lines(MIRROR, 16)}
];
`;
  Deno.writeTextFileSync("src/face/canonical.ts", text);
  console.log("wrote src/face/canonical.ts");
}
