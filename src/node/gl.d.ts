// The `gl` package (headless WebGL 1 for Node) ships no type declarations.
declare module 'gl' {
  export default function createGL(width: number, height: number, attributes?: WebGLContextAttributes): WebGLRenderingContext | null;
}
