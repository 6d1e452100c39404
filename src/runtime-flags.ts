// V8 flags regate runs with, wherever it is started from (the bin shebang, `npm start`, tests
// and benchmarks spawning it). A 1 MiB young generation makes V8 collect the 64 KiB socket
// buffers of an upload soon after use instead of letting tens of megabytes of them pile up,
// which keeps memory flat and, measured, makes pushes faster. Keep in step with the shebang of
// main.ts and the `start` script of package.json (a unit test checks).
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];
