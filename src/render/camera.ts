// Cameras for the panels, as column-major 4×4 matrices (WebGL's layout). The scene is the display
// box: x and y in [-1, 1] (the grid's extent), height z in [0, 1] (the scale), z up. A 3-D panel
// looks at it from an azimuth and elevation; a contour panel looks straight down, orthographic, so
// that the grid fills its viewport exactly.

export type Mat4 = Float32Array;

/** The shared camera state of a figure (the viewer orbits and zooms every panel together). */
export interface View {
  /** degrees, counter-clockwise around z from the +x axis to the eye (-90: the eye on -y) */
  azimuth: number;
  /** degrees above the grid's plane */
  elevation: number;
  /** 1 frames the whole box; larger is closer */
  zoom: number;
}

export const defaultView: View = { azimuth: -60, elevation: 30, zoom: 1 };

export function multiply(a: Mat4, b: Mat4): Mat4 {
  const out = new Float32Array(16);
  for (let c = 0; c < 4; c++) {
    for (let r = 0; r < 4; r++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += a[k * 4 + r]! * b[c * 4 + k]!;
      out[c * 4 + r] = s;
    }
  }
  return out;
}

export function perspective(fovy: number, aspect: number, near: number, far: number): Mat4 {
  const f = 1 / Math.tan(fovy / 2);
  const nf = 1 / (near - far);
  return Float32Array.of(f / aspect, 0, 0, 0, 0, f, 0, 0, 0, 0, (far + near) * nf, -1, 0, 0, 2 * far * near * nf, 0);
}

export function ortho(left: number, right: number, bottom: number, top: number, near: number, far: number): Mat4 {
  const [w, h, d] = [right - left, top - bottom, far - near];
  return Float32Array.of(2 / w, 0, 0, 0, 0, 2 / h, 0, 0, 0, 0, -2 / d, 0, -(right + left) / w, -(top + bottom) / h, -(far + near) / d, 1);
}

type Vec3 = [number, number, number];
const sub3 = (a: Vec3, b: Vec3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const unit = (a: Vec3): Vec3 => {
  const n = Math.hypot(...a);
  return [a[0] / n, a[1] / n, a[2] / n];
};
const dot3 = (a: Vec3, b: Vec3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];

export function lookAt(eye: Vec3, target: Vec3, up: Vec3): Mat4 {
  const f = unit(sub3(target, eye));
  const s = unit(cross(f, up));
  const u = cross(s, f);
  return Float32Array.of(s[0], u[0], -f[0], 0, s[1], u[1], -f[1], 0, s[2], u[2], -f[2], 0, -dot3(s, eye), -dot3(u, eye), dot3(f, eye), 1);
}

const FOV = (30 * Math.PI) / 180;
/** At zoom 1 the box (its bounding sphere has radius 1.5 about (0, 0, 0.5)) fills the view from any side. */
const FRAME_DISTANCE = 1.5 / Math.sin(FOV / 2);

/** The 3-D panels' model-view-projection for a viewport of the given aspect (width / height). */
export function orbitCamera(view: View, aspect = 1): Mat4 {
  const az = (view.azimuth * Math.PI) / 180;
  const el = (Math.max(-89.9, Math.min(89.9, view.elevation)) * Math.PI) / 180;
  const d = FRAME_DISTANCE / view.zoom;
  const target: Vec3 = [0, 0, 0.5];
  const eye: Vec3 = [d * Math.cos(el) * Math.cos(az), d * Math.cos(el) * Math.sin(az), 0.5 + d * Math.sin(el)];
  return multiply(perspective(FOV, aspect, d / 20, d * 3), lookAt(eye, target, [0, 0, 1]));
}

/** The contour panels' camera: straight down, x right, y up, the grid filling the viewport. */
export function topCamera(): Mat4 {
  return ortho(-1, 1, -1, 1, -2, 2);
}

/** A point through the matrix to normalized device coordinates [x, y, depth]; null behind the eye. */
export function project(m: Mat4, p: ArrayLike<number>): Vec3 | null {
  const [x, y, z] = [p[0]!, p[1]!, p[2]!];
  const w = m[3]! * x + m[7]! * y + m[11]! * z + m[15]!;
  if (!(w > 1e-9)) return null;
  return [(m[0]! * x + m[4]! * y + m[8]! * z + m[12]!) / w, (m[1]! * x + m[5]! * y + m[9]! * z + m[13]!) / w, (m[2]! * x + m[6]! * y + m[10]! * z + m[14]!) / w];
}

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Normalized device coordinates to figure pixels (y down) inside a viewport rectangle. */
export function toPixels(ndc: readonly number[], r: Rect): [number, number] {
  return [r.x + ((ndc[0]! + 1) / 2) * r.w, r.y + ((1 - ndc[1]!) / 2) * r.h];
}
