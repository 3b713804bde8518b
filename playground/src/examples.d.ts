// The example specs, bundled by playground/build.ts: file name (`mamba_s6.rnn`) to its text.
declare module 'rnnc-examples' {
  const examples: Readonly<Record<string, string>>;
  export default examples;
}
