// Learning-rate schedules: the rate for a given step, computed on the host (the optimizer kernels
// take it as a per-step uniform). Formulas as torch.optim.lr_scheduler's closed forms.

export type Schedule =
  | { kind: 'constant' }
  | { kind: 'step'; stepSize: number; gamma: number }
  | { kind: 'cosine'; totalSteps: number; minLr?: number };

export interface ScheduleOptions {
  schedule: Schedule;
  /** linear warm-up from 0 over this many steps, then the schedule (counted from the end of warm-up) */
  warmupSteps?: number;
}

export function learningRate(base: number, step: number, { schedule, warmupSteps = 0 }: ScheduleOptions): number {
  if (step < warmupSteps) return (base * (step + 1)) / warmupSteps;
  const t = step - warmupSteps;
  switch (schedule.kind) {
    case 'constant':
      return base;
    case 'step':
      return base * schedule.gamma ** Math.floor(t / schedule.stepSize);
    case 'cosine': {
      const min = schedule.minLr ?? 0;
      const span = Math.max(1, schedule.totalSteps - warmupSteps);
      return min + ((base - min) * (1 + Math.cos((Math.PI * Math.min(t, span)) / span))) / 2;
    }
  }
}
