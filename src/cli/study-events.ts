// Progress of a study (and the demo) on the terminal: a line per phase, a bar per training run and
// per landscape, each epoch's metrics.
import type { StudyEvents } from '../node/study.js';
import { progressBar } from './progress.js';

export function studyEvents(command: string): StudyEvents & { stop(): void } {
  const train = progressBar('{label} epoch {epoch} {bar} {value}/{total} batches | loss {loss} | {rate} samples/s | ETA {eta_formatted}');
  const land = progressBar('{label} {bar} {value}/{total} points | ETA {eta_formatted}');
  let epoch = 0;
  return {
    phase: (text) => console.error(`losscape ${command}: ${text}`),
    trainProgress: (label, p) => {
      const fields = { label, epoch: String(p.epoch), loss: p.loss.toFixed(4), rate: p.samplesPerSecond.toFixed(0) };
      if (p.epoch !== epoch) train.start(p.batches, p.batch, fields);
      epoch = p.epoch;
      train.update(p.batch, fields);
    },
    epoch: (label, m, epochs) => {
      train.stop();
      epoch = 0;
      console.error(`  ${label} epoch ${m.epoch}/${epochs}: train loss ${m.trainLoss.toFixed(4)} acc ${m.trainAccuracy.toFixed(4)} | test loss ${m.testLoss.toFixed(4)} acc ${m.testAccuracy.toFixed(4)} | ${m.seconds.toFixed(1)} s`);
    },
    landscapeStart: (label, done, total) => land.start(total, done, { label }),
    landscapeChunk: (label, done) => {
      land.update(done, { label });
    },
    stop: () => {
      train.stop();
      land.stop();
    },
  };
}
