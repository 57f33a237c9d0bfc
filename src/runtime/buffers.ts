// A pool of GPU buffers reused by size and usage, so executors built for a new batch size or a
// readback per frame do not allocate fresh device memory each time.

export class BufferPool {
  #free = new Map<string, GPUBuffer[]>();

  constructor(readonly device: GPUDevice) {}

  acquire(bytes: number, usage: GPUBufferUsageFlags, label?: string): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 256) * 256);
    const reused = this.#free.get(`${usage}:${size}`)?.pop();
    return reused ?? this.device.createBuffer({ size, usage, label });
  }

  release(buffer: GPUBuffer): void {
    const key = `${buffer.usage}:${buffer.size}`;
    const list = this.#free.get(key) ?? [];
    list.push(buffer);
    this.#free.set(key, list);
  }

  destroy(): void {
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
  }
}
