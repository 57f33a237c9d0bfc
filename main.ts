// `deno task start`: serves the edge app on one port (PORT or --port, default 8000) and shuts down
// gracefully on SIGINT/SIGTERM: in-flight requests finish before the process exits.

import { parseArgs } from "node:util";
import { acquireGpu, type AdapterSummary } from "./src/runtime/device.ts";
import { createApp } from "./src/server/app.ts";

const { values } = parseArgs({ args: Deno.args, options: { port: { type: "string" } } });
const port = Number(values.port ?? Deno.env.get("PORT") ?? 8000);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid port "${values.port ?? Deno.env.get("PORT")}"`);
  Deno.exit(2);
}

let adapter: AdapterSummary | undefined;
try {
  adapter = (await acquireGpu()).info;
} catch (e) {
  console.warn(`no WebGPU adapter, inference uses the CPU backend: ${(e as Error).message}`);
}

const app = createApp({ adapter });
const server = Deno.serve({
  port,
  hostname: Deno.env.get("HOST") ?? "0.0.0.0",
  onListen: ({ port }) => console.log(`serving on http://localhost:${port}/`),
}, app.fetch);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    console.log(`\n${signal}: finishing in-flight requests`);
    await server.shutdown();
    Deno.exit(0);
  });
}
