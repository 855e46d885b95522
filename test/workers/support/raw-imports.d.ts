// Vite's `?raw` suffix imports a file's text at transform time (tests that read the docs).
declare module '*?raw' {
  const text: string;
  export default text;
}
