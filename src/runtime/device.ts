// Adapter and device acquisition, the same code in Deno and the browser (navigator.gpu), with the
// adapter's identity exposed for tuning files, reports and the client's backend choice.

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  features: string[];
  limits: Record<string, number>;
}

export interface Gpu {
  adapter: GPUAdapter;
  device: GPUDevice;
  info: AdapterSummary;
  /** Stable identity of the adapter, used to key tuning files. */
  key: string;
  /** Resolves when the device is lost (driver reset, tab backgrounded, destroy()). */
  lost: Promise<GPUDeviceLostInfo>;
  /** The loss, once it happened: executors refuse to run on a lost device. */
  readonly lostInfo: GPUDeviceLostInfo | undefined;
}

export class NoWebGpuError extends Error {
  override name = "NoWebGpuError";
}

export class DeviceLostError extends Error {
  override name = "DeviceLostError";
  constructor(readonly info: GPUDeviceLostInfo) {
    super(`the GPU device was lost (${info.reason}): ${info.message}`);
  }
}

const LIMITS = [
  "maxBufferSize",
  "maxStorageBufferBindingSize",
  "maxStorageBuffersPerShaderStage",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupsPerDimension",
  "minStorageBufferOffsetAlignment",
] as const;

const OPTIONAL_FEATURES: GPUFeatureName[] = ["shader-f16", "timestamp-query"];

export function summarizeAdapter(adapter: GPUAdapter): AdapterSummary {
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const legacy = adapter as GPUAdapter & { isFallbackAdapter?: boolean };
  const limits: Record<string, number> = {};
  for (const name of LIMITS) limits[name] = Number(adapter.limits[name]);
  return {
    vendor: info.vendor ?? "",
    architecture: info.architecture ?? "",
    device: info.device ?? "",
    description: info.description ?? "",
    isFallbackAdapter: Boolean(info.isFallbackAdapter ?? legacy.isFallbackAdapter),
    features: [...adapter.features].map(String).sort(),
    limits,
  };
}

export function adapterKey(s: AdapterSummary): string {
  const text = [s.vendor, s.architecture, s.device, s.description].join("-").toLowerCase();
  return text.replace(/[^a-z0-9.]+/g, "-").replace(/^-+|-+$/g, "") || "unknown-adapter";
}

export async function acquireGpu(
  options: { powerPreference?: GPUPowerPreference; gpu?: GPU } = {},
): Promise<Gpu> {
  const gpu = options.gpu ?? (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) throw new NoWebGpuError("WebGPU is not available here (navigator.gpu is missing)");
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference });
  if (!adapter) throw new NoWebGpuError("WebGPU is present but no adapter was found");
  const info = summarizeAdapter(adapter);
  // Ask for the adapter's full buffer limits: the default 128 MiB caps batch × resolution.
  const device = await adapter.requestDevice({
    requiredFeatures: OPTIONAL_FEATURES.filter((f) => adapter.features.has(f)),
    requiredLimits: {
      maxBufferSize: adapter.limits.maxBufferSize,
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
    },
  });
  let lostInfo: GPUDeviceLostInfo | undefined;
  device.lost.then((info) => lostInfo = info);
  return {
    adapter,
    device,
    info,
    key: adapterKey(info),
    lost: device.lost,
    get lostInfo() {
      return lostInfo;
    },
  };
}
