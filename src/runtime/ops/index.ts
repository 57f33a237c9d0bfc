// The op registry: one row per op, looked up by name by both executors, the bench and the tests.

import { conv2d } from "./conv.ts";
import type { OpDef } from "./types.ts";

// deno-lint-ignore no-explicit-any
export const OPS: Record<string, OpDef<any>> = {
  conv2d,
};

// deno-lint-ignore no-explicit-any
export function getOp(name: string): OpDef<any> {
  const op = OPS[name];
  if (!op) throw new Error(`unknown op "${name}"`);
  return op;
}
