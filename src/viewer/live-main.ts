// The live page's entry (served by `losscape view --live` as live.js, beside losscape.js).
import { mountLive } from './live.js';

mountLive(document.getElementById('losscape-live')!);
