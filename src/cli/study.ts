// `losscape study NAME`: the seed study's experiments, one command each (src/node/studies.ts).
// Settings come from the defaults, then a JSON config file (--config), then the flags given.
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { runStudy, STUDIES, STUDY_DEFAULTS, STUDY_SMOKE, type StudyConfig, type StudyName } from '../node/studies.js';
import { textTable } from '../node/study.js';
import { initTuned } from '../node/tune.js';
import { integer, list, oneOf, real } from './options.js';
import { studyEvents, studySettingsOptions } from './study-events.js';

const NORMS = ['filter', 'layer', 'model', 'weight', 'none'];

/** A config file's settings, checked key by key against the defaults' keys and types. */
function readConfig(file: string): Partial<StudyConfig> {
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not a readable JSON study config (${(e as Error).message})`);
  }
  if (!c || typeof c !== 'object' || Array.isArray(c)) throw new Error(`${file}: a study config is a JSON object of settings`);
  const defaults = STUDY_DEFAULTS as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(c)) {
    if (k === 'out') continue;
    if (!(k in defaults)) throw new Error(`${file}: unknown setting "${k}"; known: ${Object.keys(defaults).join(', ')}`);
    const d = defaults[k];
    const ok = Array.isArray(d) ? Array.isArray(v) && v.every((x) => typeof x === typeof d[0]) : typeof v === typeof d;
    if (!ok) throw new Error(`${file}: "${k}" should be ${Array.isArray(d) ? `a list of ${typeof d[0]}s` : `a ${typeof d}`}, got ${JSON.stringify(v)}`);
  }
  return c as Partial<StudyConfig>;
}

export function studyCommand(): Command {
  const d = STUDY_DEFAULTS;
  const cmd = new Command('study')
    .description(`run one of the studies (${STUDIES.join(', ')}): training runs from one initialization, landscapes on one scale, a table with sharpness numbers and summary.md`)
    .argument('<name>', STUDIES.join(' | '))
    .option('--config <file>', 'a JSON file of settings (the flags\' names in camelCase); flags given override it')
    .addOption(new Option('--optimizer <name>', 'the base optimizer (SAM runs wrap it)').choices(['adamw', 'sgd']).default(d.optimizer))
    .addOption(new Option('--norm <kind>', 'direction normalization').choices(NORMS).default(d.normalization))
    .option('--lrs <list>', 'lr: learning rates', list(real({ above: 0 })), d.lrs)
    .option('--rhos <list>', 'rho: SAM radii (0 checks that SAM reproduces the base optimizer)', list(real({ atLeast: 0 })), d.rhos)
    .option('--every <n>', 'evolution: a landscape every n epochs (and at the initialization)', integer(1), d.every)
    .option('--norms <list>', 'traversal: normalizations side by side', list(oneOf(NORMS)), d.norms)
    .option('--ranges <list>', 'distance: ranges of the same directions', list(real({ above: 0 })), d.ranges)
    .option('--sharpness-rho <x>', 'ρ of the SAM-sharpness column', real({ above: 0 }), d.sharpnessRho)
    .option('--no-hessian', 'leave out the Hessian\'s top eigenvalue (Lanczos) from the tables')
    .option('--out <dir>', 'output folder (default: studies/NAME)');
  studySettingsOptions(cmd, d);
  return cmd.action(async (name: string, o: Record<string, unknown>) => {
    if (!STUDIES.includes(name as StudyName)) throw new Error(`study: unknown study "${name}"; choose ${STUDIES.join(', ')}`);
    const fromFile = typeof o.config === 'string' ? readConfig(o.config) : {};
    // flags given on the command line override the config file, which overrides the defaults
    const given = Object.fromEntries(Object.entries(o).filter(([k]) => cmd.getOptionValueSource(k) === 'cli'));
    const renamed = (r: Record<string, unknown>) => {
      const { norm: n, config: _, smoke: __, ...rest } = r;
      return { ...rest, ...(n !== undefined ? { normalization: n } : {}) };
    };
    const config = { ...d, out: `studies/${name}`, ...fromFile, ...renamed(given), ...(o.smoke ? STUDY_SMOKE : {}) } as StudyConfig;
    const engine = await initTuned();
    const events = studyEvents(`study ${name}`);
    console.error(`losscape study ${name}: ${config.model} on ${config.dataset}, adapter ${engine.adapter.description}; writing ${config.out}/`);
    const result = await runStudy(name as StudyName, config, events);
    events.stop();
    console.log(`\n${textTable(result.columns, result.rows)}\n`);
    console.log(`losscape study ${name}: ${config.out}/summary.md, figure-3d.png, figure-contour.png, table.json`);
  });
}
