// The landscape renderer: surface files to meshes, colours, scales, contour lines and labels (plain
// functions), regl draw commands and an SVG overlay on top. Runs in a page and in Node alike; the
// Node part (headless WebGL, PNG files) is in src/node/render.ts.
export { checkSurface, parseSurface, checkSameGrid, gridText, type NamedSurface } from './surface-check.js';
export { colormap, colormapNames, colormapTable, parseRgb, type Rgb } from './colormap.js';
export { computeScale, normalize, scaleTicks, contourLevels, lossStats, scaleText, type Scale, type ScaleOptions, type Tick } from './scale.js';
export { surfaceMesh, vertexNormals, toDisplay, gridIndex, heightAt, type SurfaceMesh } from './mesh.js';
export { contourLines, type ContourLine } from './contours.js';
export { planPath, pathDisplay, type PlanPath } from './path.js';
export { panelLabels, type PanelLabels } from './labels.js';
export { orbitCamera, topCamera, project, toPixels, defaultView, type View, type Mat4, type Rect } from './camera.js';
export { planFigure, figureGrid, panelCamera, panelPixels, pointPixel, type Figure, type FigureOptions, type Panel } from './figure.js';
export { figureSvg, FONT, PATH_COLOR } from './svg.js';
export { createFigureRenderer, LIGHT, BACKGROUND, type FigureRenderer } from './draw.js';

export { pickPoint, type Picked } from './pick.js';
export { curveSvg, type CurveSeries, type CurveOptions } from './curve.js';
