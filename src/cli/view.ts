// `losscape view`: serves the web viewer on localhost with the given surface files and prints its
// address; runs until interrupted. A thin shell over serveViewer.
import { Command } from 'commander';
import { serveViewer } from '../node/viewer.js';
import { finiteNumber } from './render.js';

export function viewCommand(): Command {
  return new Command('view')
    .description('open surface files in the web viewer (orbit, zoom, values under the pointer, surface/contour, linear/log): serves it on localhost and prints the address')
    .argument('[files...]', 'surface files (.json); more can be opened from the page')
    .option('--port <n>', 'port to listen on (default: a free one)', finiteNumber, 0)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .action(async (files: string[], o: { port: number; host: string }) => {
      const server = await serveViewer(files, { port: o.port, host: o.host });
      console.log(server.url);
      console.error('losscape view: open the address above in a browser; Ctrl-C stops the server');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
    });
}
