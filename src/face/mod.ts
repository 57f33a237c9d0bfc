// Face geometry shared by the browser client and the distillation tools: the canonical template,
// the similarity alignment, One-Euro smoothing, region masks and the mesh topology. Pure TS.

export * from "./landmarks.ts";
export * from "./template.ts";
export * from "./similarity.ts";
export * from "./one_euro.ts";
export * from "./masks.ts";
export * from "./topology.ts";
export { CANONICAL_FACE, MIRROR } from "./canonical.ts";
