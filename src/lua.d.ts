// Lua scripts are bundled as text (tsup `loader`, and a vitest transform in tests).
declare module '*.lua' {
  const source: string;
  export default source;
}
