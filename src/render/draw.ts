// The WebGL drawing of a figure, as regl commands: the same code draws in a page (a canvas) and in
// Node (the `gl` package's headless context). Each panel is drawn into its own viewport: the mesh
// coloured through a colormap texture by its per-vertex scale value, lit (Lambert plus ambient)
// in 3-D, unlit seen from above in the contour view; optionally with grid lines over it.
import type REGL from 'regl';
import type { View } from './camera.js';
import { colormapTable } from './colormap.js';
import { panelCamera, type Figure, type Panel } from './figure.js';
import type { SurfaceMesh } from './mesh.js';

/** The direction the light comes from (world coordinates, unit length): above, in front, a little right. */
export const LIGHT: readonly [number, number, number] = (() => {
  const v = [0.3, -0.5, 1];
  const n = Math.hypot(...v);
  return v.map((a) => a / n) as [number, number, number];
})();

/** The figure's background (the canvas clears to it; gaps show it). */
export const BACKGROUND: readonly [number, number, number] = [255, 255, 255];

const surfaceVert = `
precision highp float;
attribute vec3 position;
attribute vec3 normal;
attribute float value;
uniform mat4 camera;
varying vec3 vNormal;
varying float vValue;
void main() {
  vNormal = normal;
  vValue = value;
  gl_Position = camera * vec4(position, 1.0);
}`;

const surfaceFrag = `
precision mediump float;
uniform sampler2D colormap;
uniform vec3 light;
uniform float ambient;
uniform float diffuse;
varying vec3 vNormal;
varying float vValue;
void main() {
  vec3 n = normalize(vNormal);
  if (!gl_FrontFacing) n = -n;
  float k = ambient + diffuse * max(dot(n, light), 0.0);
  // texel centres: value 0 reads the first entry, 1 the last
  vec3 c = texture2D(colormap, vec2((vValue * 255.0 + 0.5) / 256.0, 0.5)).rgb;
  gl_FragColor = vec4(c * k, 1.0);
}`;

const edgeVert = `
precision highp float;
attribute vec3 position;
uniform mat4 camera;
void main() { gl_Position = camera * vec4(position, 1.0); }`;

const edgeFrag = `
precision mediump float;
void main() { gl_FragColor = vec4(0.0, 0.0, 0.0, 0.35); }`;

interface MeshBuffers {
  position: REGL.Buffer;
  normal: REGL.Buffer;
  value: REGL.Buffer;
  triangles: REGL.Elements;
  edges: REGL.Elements | null;
}

interface SurfaceProps {
  position: REGL.Buffer;
  normal: REGL.Buffer;
  value: REGL.Buffer;
  elements: REGL.Elements;
  camera: Float32Array;
  colormap: REGL.Texture2D;
  ambient: number;
  diffuse: number;
  viewport: REGL.BoundingBox;
}

export interface FigureRenderer {
  /** Clears the drawing buffer and draws every panel; figure pixels × pixelRatio = buffer pixels. */
  draw(fig: Figure, view: View, pixelRatio?: number): void;
  /** Frees the meshes' buffers and the colormap textures. */
  destroy(): void;
}

export function createFigureRenderer(regl: REGL.Regl): FigureRenderer {
  const drawSurface = regl<{}, {}, SurfaceProps>({
    vert: surfaceVert,
    frag: surfaceFrag,
    attributes: {
      position: regl.prop<SurfaceProps, 'position'>('position'),
      normal: regl.prop<SurfaceProps, 'normal'>('normal'),
      value: regl.prop<SurfaceProps, 'value'>('value'),
    },
    uniforms: {
      camera: regl.prop<SurfaceProps, 'camera'>('camera'),
      colormap: regl.prop<SurfaceProps, 'colormap'>('colormap'),
      light: [...LIGHT],
      ambient: regl.prop<SurfaceProps, 'ambient'>('ambient'),
      diffuse: regl.prop<SurfaceProps, 'diffuse'>('diffuse'),
    },
    elements: regl.prop<SurfaceProps, 'elements'>('elements'),
    viewport: regl.prop<SurfaceProps, 'viewport'>('viewport'),
    scissor: { enable: true, box: regl.prop<SurfaceProps, 'viewport'>('viewport') },
    depth: { enable: true },
    // pushed back a little, so that grid lines drawn after it win the depth test
    polygonOffset: { enable: true, offset: { factor: 1, units: 1 } },
  });
  const drawEdges = regl<{}, {}, SurfaceProps>({
    vert: edgeVert,
    frag: edgeFrag,
    attributes: { position: regl.prop<SurfaceProps, 'position'>('position') },
    uniforms: { camera: regl.prop<SurfaceProps, 'camera'>('camera') },
    elements: regl.prop<SurfaceProps, 'elements'>('elements'),
    primitive: 'lines',
    viewport: regl.prop<SurfaceProps, 'viewport'>('viewport'),
    scissor: { enable: true, box: regl.prop<SurfaceProps, 'viewport'>('viewport') },
    depth: { enable: true, mask: false },
    blend: { enable: true, func: { src: 'src alpha', dst: 'one minus src alpha' } },
  });

  const buffers = new WeakMap<SurfaceMesh, MeshBuffers>();
  const owned: MeshBuffers[] = [];
  const textures = new Map<string, REGL.Texture2D>();
  const meshBuffers = (mesh: SurfaceMesh): MeshBuffers => {
    let b = buffers.get(mesh);
    if (!b) {
      b = {
        position: regl.buffer(mesh.positions),
        normal: regl.buffer(mesh.normals),
        value: regl.buffer(mesh.values),
        triangles: regl.elements({ data: mesh.triangles, primitive: 'triangles', type: 'uint32' }),
        edges: mesh.edges.length ? regl.elements({ data: mesh.edges, primitive: 'lines', type: 'uint32' }) : null,
      };
      buffers.set(mesh, b);
      owned.push(b);
    }
    return b;
  };
  const texture = (name: string): REGL.Texture2D => {
    let t = textures.get(name);
    if (!t) {
      t = regl.texture({ width: 256, height: 1, data: colormapTable(name), min: 'linear', mag: 'linear', wrapS: 'clamp', wrapT: 'clamp' });
      textures.set(name, t);
    }
    return t;
  };
  const viewport = (fig: Figure, p: Panel, pr: number): REGL.BoundingBox => {
    const [x0, x1] = [Math.round(p.plot.x * pr), Math.round((p.plot.x + p.plot.w) * pr)];
    const [y0, y1] = [Math.round((fig.height - p.plot.y - p.plot.h) * pr), Math.round((fig.height - p.plot.y) * pr)];
    return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
  };

  return {
    draw(fig, view, pixelRatio = 1) {
      regl.poll();
      regl.clear({ color: [...BACKGROUND.map((c) => c / 255), 1] as REGL.Vec4, depth: 1 });
      const flat = fig.view === 'contour';
      for (const p of fig.panels) {
        if (!p.mesh || p.mesh.triangles.length === 0) continue;
        const b = meshBuffers(p.mesh);
        const props: SurfaceProps = {
          ...b,
          elements: b.triangles,
          camera: panelCamera(fig, p, view),
          colormap: texture(fig.colormap),
          ambient: flat ? 1 : fig.options.ambient,
          diffuse: flat ? 0 : fig.options.diffuse,
          viewport: viewport(fig, p, pixelRatio),
        };
        drawSurface(props);
        if (fig.options.wireframe && !flat && b.edges) drawEdges({ ...props, elements: b.edges });
      }
    },
    destroy() {
      for (const b of owned) {
        b.position.destroy();
        b.normal.destroy();
        b.value.destroy();
        b.triangles.destroy();
        b.edges?.destroy();
      }
      owned.length = 0;
      for (const t of textures.values()) t.destroy();
      textures.clear();
    },
  };
}
