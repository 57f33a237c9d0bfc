// Tests for the landmark region masks: exact areas of simple shapes, anti-aliased and feathered
// edges, grow/shrink, and sensible regions (areas, inside/outside points) on the canonical face.

import assert from "node:assert/strict";
import {
  faceUnit,
  maskArea,
  maskAt,
  polygonMask,
  polylineMask,
  regionMask,
  REGIONS,
} from "../../src/face/masks.ts";
import type { Point } from "../../src/face/landmarks.ts";
import { canonicalInCrop } from "../fixtures/faces.ts";

const near = (a: number, b: number, rel: number, what: string) =>
  assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${what}: ${a} vs ${b}`);

const square: Point[] = [[50, 50], [150, 50], [150, 150], [50, 150]];
const circle = (cx: number, cy: number, r: number, n = 256): Point[] =>
  Array.from(
    { length: n },
    (_, k) => [cx + r * Math.cos((2 * Math.PI * k) / n), cy + r * Math.sin((2 * Math.PI * k) / n)],
  );

Deno.test("polygon masks: exact areas, inside = 1, outside = 0, 0.5 on the outline", () => {
  const m = polygonMask(square, 200, 200);
  near(maskArea(m), 100 * 100, 0.005, "square area");
  assert.equal(maskAt(m, 100, 100), 1);
  assert.equal(maskAt(m, 10, 10), 0);
  // The outline x = 50.0 runs along pixel edges; pixel 49 (centre 49.5) is half a pixel outside.
  near(maskAt(m, 49, 100), 0, 1e-6, "outside neighbour");
  near(maskAt(m, 50, 100), 1, 1e-6, "inside neighbour");
  const off = polygonMask([[50.5, 50], [150.5, 50], [150.5, 150], [50.5, 150]], 200, 200);
  near(maskAt(off, 50, 100), 0.5, 1e-6, "pixel centre on the outline");
  const c = polygonMask(circle(100, 100, 40), 200, 200);
  near(maskArea(c), Math.PI * 40 * 40, 0.005, "circle area");
  // Winding order doesn't matter.
  near(maskArea(polygonMask([...square].reverse(), 200, 200)), 10000, 0.005, "reversed");
});

Deno.test("feather softens symmetrically (area kept) and grow moves the outline", () => {
  const hard = polygonMask(circle(100, 100, 40), 200, 200);
  const soft = polygonMask(circle(100, 100, 40), 200, 200, { feather: 12 });
  near(maskArea(soft), maskArea(hard), 0.01, "feathered area");
  assert.equal(maskAt(soft, 100, 100), 1);
  const ramp = maskAt(soft, 100 + 37, 100);
  assert.ok(ramp > 0.55 && ramp < 1, `inside the ramp: ${ramp}`);
  const grown = polygonMask(circle(100, 100, 40), 200, 200, { grow: 5 });
  near(maskArea(grown), Math.PI * 45 * 45, 0.01, "grown area");
  const shrunk = polygonMask(circle(100, 100, 40), 200, 200, { grow: -10 });
  near(maskArea(shrunk), Math.PI * 30 * 30, 0.01, "shrunk area");
  const line = polylineMask([[20, 100], [180, 100]], 6, 200, 200);
  near(maskArea(line), 160 * 6 + Math.PI * 9, 0.02, "stroke area");
  assert.throws(() => polygonMask(square, 0, 10), RangeError);
});

Deno.test("face regions on the canonical face: sensible areas and inside/outside points", () => {
  const size = 256;
  const lm = canonicalInCrop(size);
  const area = Object.fromEntries(REGIONS.map((r) => [r, maskArea(regionMask(lm, r, size, size))]));
  const crop = size * size;
  assert.ok(
    area.face > 0.15 * crop && area.face < 0.26 * crop,
    `face ${area.face / crop} of the crop`,
  );
  near(area.eyes, area.leftEye + area.rightEye, 0.01, "eyes = left + right");
  near(area.leftEye, area.rightEye, 0.1, "eyes symmetric");
  assert.ok(
    area.leftEye > 0.003 * area.face && area.leftEye < 0.03 * area.face,
    `eye ${area.leftEye}`,
  );
  assert.ok(area.brows > area.eyes * 0.5 && area.brows < area.face * 0.1, `brows ${area.brows}`);
  assert.ok(area.mouth < area.lips, "the mouth opening is inside the lips");
  assert.ok(area.lips > 0.02 * area.face && area.lips < 0.1 * area.face, `lips ${area.lips}`);
  assert.ok(
    area.skin < area.face - area.eyes - area.lips && area.skin > 0.75 * area.face,
    `skin ${area.skin} of face ${area.face}`,
  );

  const at = (i: number) => [lm[2 * i], lm[2 * i + 1]] as const;
  const value = (r: (typeof REGIONS)[number], [x, y]: readonly [number, number]) =>
    maskAt(regionMask(lm, r, size, size), x, y);
  const noseTip = at(1), rightIris = at(468), leftIris = at(473);
  const cheek = [(at(234)[0] + at(61)[0]) / 2, (at(234)[1] + at(61)[1]) / 2] as const;
  assert.equal(value("face", noseTip), 1);
  assert.equal(value("skin", noseTip), 1);
  assert.equal(value("skin", cheek), 1);
  assert.equal(value("eyes", noseTip), 0);
  assert.equal(value("rightEye", rightIris), 1);
  assert.equal(value("leftEye", rightIris), 0);
  assert.equal(value("leftEye", leftIris), 1);
  assert.equal(value("skin", rightIris), 0);
  assert.ok(leftIris[0] > rightIris[0], "subject's left eye is on the image's right");
  const lipsCentre = [(at(0)[0] + at(17)[0]) / 2, (at(0)[1] + at(17)[1]) / 2] as const;
  assert.equal(value("lips", lipsCentre), 1);
  assert.equal(value("skin", lipsCentre), 0);
  for (const r of REGIONS) assert.equal(value(r, [2, 2]), 0, `${r} at the crop corner`);
  near(faceUnit(lm), 0.5263 * size / 1.8, 0.01, "inter-ocular distance");
});
