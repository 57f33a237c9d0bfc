// Student configs shared by tests: the real structure at sizes the CPU reference handles quickly.

import { plan, type PlanOptions } from "../../src/graph/planner.ts";
import { randomArray, rng } from "../../src/graph/random.ts";
import { buildStudent, DEFAULT_STUDENT, type StudentConfig } from "../../src/graph/student.ts";
import { initWeights } from "../../src/graph/weights.ts";
import { CpuExecutor, type Weights } from "../../src/runtime/executor.ts";
import type { Program } from "../../src/runtime/program.ts";
import { type HostTensor, hostTensor } from "../../src/runtime/tensor.ts";

/** A narrow student at the smallest size: the same structure, cheap enough for the CPU reference. */
export const TINY_STUDENT: StudentConfig = { ...DEFAULT_STUDENT, inputSize: 128, width: 0.25 };

/**
 * TINY_STUDENT planned, with seeded weights, a random image and the CPU reference's output: what a
 * whole-student GPU test runs and compares against.
 */
export function tinyStudentRun(imageSeed: number, options: PlanOptions = {}): {
  program: Program;
  weights: Weights;
  image: HostTensor;
  expected: HostTensor;
} {
  const graph = buildStudent(TINY_STUDENT);
  const { program } = plan(graph, options);
  const weights = initWeights(graph, 3);
  const s = TINY_STUDENT.inputSize;
  const image = hostTensor([1, s, s, 3], randomArray(rng(imageSeed), s * s * 3));
  const [expected] = new CpuExecutor(program, weights).run([image]);
  return { program, weights, image, expected };
}
