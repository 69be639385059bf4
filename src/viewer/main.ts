// The viewer page's entry: surfaces embedded in the page, or named in the address (?file=, ?files=),
// or none until the user opens some; figure options from the embedded data and the address.
import { mountViewer } from './app.js';
import { embeddedSurfaces, fetchSurfaces, fileParams, optionsFromParams } from './load.js';

const root = document.getElementById('losscape-viewer')!;
const embedded = document.getElementById('losscape-data');
const data = embedded ? JSON.parse(embedded.textContent!) : null;
const viewer = mountViewer(root, [], { ...data?.options, ...optionsFromParams(location.search) });
try {
  const surfaces = data ? embeddedSurfaces(data.surfaces) : await fetchSurfaces(fileParams(location.search), location.href);
  if (surfaces.length) viewer.setSurfaces(surfaces);
} catch (e) {
  viewer.showError(e);
}
