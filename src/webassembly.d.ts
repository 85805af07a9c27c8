// The few WebAssembly JS API types this package uses. TypeScript ships them only in its DOM
// lib, and @types/node 20 does not declare them; Node 20 implements all of these.

declare namespace WebAssembly {
  class Module {
    constructor(bytes: ArrayBufferView | ArrayBuffer);
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
  }
  class Global {
    value: unknown;
  }
}
