// `losscape view`: serves the web viewer on localhost with the given surface files, or with --live
// the live page (train in the browser on WebGPU, then the landscape drawn as it arrives), and prints
// its address; runs until interrupted. A thin shell over serveViewer.
import { Command } from 'commander';
import { serveViewer } from '../node/viewer.js';
import { finiteNumber } from './render.js';

export function viewCommand(): Command {
  return new Command('view')
    .description('open surface files in the web viewer (orbit, zoom, values under the pointer, surface/contour, linear/log), or --live: train and map a landscape in the browser; serves the page on localhost and prints the address')
    .argument('[files...]', 'surface files (.json); more can be opened from the page')
    .option('--live', 'the live page: pick a model and an optimizer, train on an MNIST slice with a live loss curve, then the landscape coarse to fine, all on the browser\'s WebGPU', false)
    .option('--checkpoint <file>', 'with --live: a checkpoint (and its .json sidecar) whose landscape the page maps')
    .option('--port <n>', 'port to listen on (default: a free one)', finiteNumber, 0)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .action(async (files: string[], o: { live: boolean; checkpoint?: string; port: number; host: string }) => {
      if (o.checkpoint && !o.live) throw new Error('--checkpoint: only with --live (the live page maps it)');
      const server = await serveViewer(files, { port: o.port, host: o.host, live: o.live, checkpoint: o.checkpoint });
      console.log(server.url);
      console.error(`losscape view: open the address above in a browser${o.live ? ' with WebGPU' : ''}; Ctrl-C stops the server`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
    });
}
