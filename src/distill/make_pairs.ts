// `deno task pairs`: runs a teacher over the prepared crops and writes a pairs folder per split
// (out/pairs/<teacher>/{train,val}/{input,target,landmarks}/), the trainer's input.
//
//   deno task pairs --teacher cartoon [--crops out/data/crops] [--out out/pairs]

import { parseArgs } from "node:util";
import { basename, join } from "node:path";
import { decodeImage } from "../media/codec.ts";
import type { CropRecord } from "./prepare.ts";
import { writePair } from "./pairs.ts";
import { teacherById, TEACHERS } from "./teachers/mod.ts";

/** Writes `<out>/<teacher>/<split>/…` for every crop; returns the number of pairs written. */
export async function makePairs(
  teacherId: string,
  cropsDir: string,
  outDir: string,
): Promise<number> {
  const teacher = teacherById(teacherId);
  let index: { crops: { file: string; split: string }[] };
  try {
    index = JSON.parse(await Deno.readTextFile(join(cropsDir, "index.json")));
  } catch {
    throw new Error(`no prepared crops in ${cropsDir}: run \`deno task prepare\` first`);
  }
  let n = 0;
  for (const { file, split } of index.crops) {
    const rec = JSON.parse(
      await Deno.readTextFile(join(cropsDir, file.replace(/\.png$/, ".json"))),
    ) as CropRecord;
    const input = decodeImage(await Deno.readFile(join(cropsDir, file)));
    const t0 = performance.now();
    const target = teacher.apply(input, Float32Array.from(rec.landmarks));
    await writePair(join(outDir, teacher.id, split), {
      name: basename(file),
      input,
      target,
      landmarks: Float32Array.from(rec.landmarks),
    });
    n++;
    const ms = (performance.now() - t0).toFixed(0);
    console.log(`[${teacher.id} ${n}/${index.crops.length}] ${file} (${ms} ms)`);
  }
  return n;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      teacher: { type: "string" },
      crops: { type: "string", default: "out/data/crops" },
      out: { type: "string", default: "out/pairs" },
    },
  });
  const ids = values.teacher ? values.teacher.split(",") : TEACHERS.map((t) => t.id);
  for (const id of ids) {
    const n = await makePairs(id, values.crops, values.out);
    console.log(`${id}: ${n} pairs in ${join(values.out, id)}`);
  }
}
