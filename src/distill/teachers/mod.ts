// The procedural teachers, by id: what `deno task teachers` shows and the trainer distils from.

import { cartoonTeacher } from "./cartoon.ts";
import { sketchTeacher } from "./sketch.ts";
import { smileTeacher } from "./smile.ts";
import type { Teacher } from "./teacher.ts";
import { zombieTeacher } from "./zombie.ts";

export type { Teacher } from "./teacher.ts";

export const TEACHERS: readonly Teacher[] = [
  cartoonTeacher,
  sketchTeacher,
  zombieTeacher,
  smileTeacher,
];

export function teacherById(id: string): Teacher {
  const t = TEACHERS.find((t) => t.id === id);
  if (!t) {
    throw new Error(`unknown teacher "${id}" (have: ${TEACHERS.map((t) => t.id).join(", ")})`);
  }
  return t;
}
