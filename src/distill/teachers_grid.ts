// `deno task teachers`: a picture to judge the teachers by — one row per face (aligned crop, then
// every teacher's output), from the crops `deno task prepare` made. Writes out/teachers.png.
//
//   deno task teachers [--crops out/data/crops] [--out out/teachers.png] [--faces 5]
//                      [--teachers cartoon,sketch,zombie,smile] [--cell 256] [--pick name,name]

import { parseArgs } from "node:util";
import { join } from "node:path";
import { decodeImage, encodePng, type RgbaImage } from "../media/codec.ts";
import type { CropRecord } from "./prepare.ts";
import { grid } from "./grid.ts";
import { teacherById, TEACHERS } from "./teachers/mod.ts";

export interface GridRow {
  name: string;
  crop: RgbaImage;
  landmarks: Float32Array;
}

/** Loads prepared crops: the ones named in `pick`, else the first `count` (faces/ set first). */
export async function loadCrops(dir: string, count: number, pick?: string[]): Promise<GridRow[]> {
  let index: { crops: { file: string }[] };
  try {
    index = JSON.parse(await Deno.readTextFile(join(dir, "index.json")));
  } catch {
    throw new Error(`no prepared crops in ${dir}: run \`deno task prepare\` first`);
  }
  const files = index.crops.map((c) => c.file).filter((f) =>
    !pick || pick.some((p) => f.includes(p))
  ).sort((a, b) =>
    Number(b.includes("/faces-")) - Number(a.includes("/faces-")) || (a < b ? -1 : 1)
  );
  return await Promise.all(
    files.slice(0, count).map(async (file) => {
      const rec = JSON.parse(
        await Deno.readTextFile(join(dir, file.replace(/\.png$/, ".json"))),
      ) as CropRecord;
      return {
        name: file,
        crop: decodeImage(await Deno.readFile(join(dir, file))),
        landmarks: Float32Array.from(rec.landmarks),
      };
    }),
  );
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      crops: { type: "string", default: "out/data/crops" },
      out: { type: "string", default: "out/teachers.png" },
      faces: { type: "string", default: "5" },
      teachers: { type: "string", default: TEACHERS.map((t) => t.id).join(",") },
      cell: { type: "string", default: "256" },
      pick: { type: "string" },
    },
  });
  const teachers = values.teachers.split(",").map(teacherById);
  const rows = await loadCrops(values.crops, Number(values.faces), values.pick?.split(","));
  const cells: RgbaImage[][] = [];
  for (const row of rows) {
    const line = [row.crop];
    for (const t of teachers) {
      const t0 = performance.now();
      line.push(t.apply(row.crop, row.landmarks));
      console.log(`${row.name}  ${t.id}: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    }
    cells.push(line);
  }
  const picture = grid(cells, { cell: Number(values.cell) });
  await Deno.mkdir(join(values.out, ".."), { recursive: true });
  await Deno.writeFile(values.out, encodePng(picture));
  console.log(
    `wrote ${values.out}: ${rows.length} faces × (crop + ${teachers.map((t) => t.id).join(", ")})`,
  );
}
