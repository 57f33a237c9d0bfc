// Student configs shared by tests: the real structure at sizes the CPU reference handles quickly.

import { DEFAULT_STUDENT, type StudentConfig } from "../../src/graph/student.ts";

/** A narrow student at the smallest size: the same structure, cheap enough for the CPU reference. */
export const TINY_STUDENT: StudentConfig = { ...DEFAULT_STUDENT, inputSize: 128, width: 0.25 };
