import { describe, expect, it } from 'vitest';
import shipped from '../../experiments/cpu-60min-c256.ts';
import { loadSpec, resolveSpec, SpecError } from '../../experiments/index.ts';
import quick from '../../experiments/quick.ts';

const expectSpecError = (fn: () => unknown, path: string, message: RegExp) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SpecError);
    expect((err as SpecError).path).toBe(path);
    expect((err as Error).message).toMatch(message);
    return;
  }
  throw new Error('expected a SpecError');
};

describe('experiment specs', () => {
  it('loads the shipped specs', async () => {
    for (const name of ['paper', 'quick'] as const) {
      const s = await loadSpec(name);
      expect(s.runs).toHaveLength(1);
      expect(s.runs[0]!.configHash).toMatch(/^[0-9a-f]{64}$/);
    }
    const paper = await loadSpec('paper');
    expect(paper.spec.training.seg.epochs).toBe(240);
    expect(paper.spec.training.seg.inputSize).toBe(1024);
  });

  it('expands the erosion ablation into two runs that differ only in erosion', async () => {
    const s = await loadSpec('ablation-erosion');
    expect(s.runs.map((r) => r.arm)).toEqual([
      { 'groundTruth.erosion': true },
      { 'groundTruth.erosion': false },
    ]);
    const [a, b] = s.runs.map((r) => r.spec);
    expect(a!.groundTruth.erosion).toBe(true);
    expect(b!.groundTruth.erosion).toBe(false);
    expect({ ...a, groundTruth: null }).toEqual({ ...b, groundTruth: null });
    expect(s.runs[0]!.configHash).not.toBe(s.runs[1]!.configHash);
  });

  it('refuses two budgets for one net, or none, naming the net', () => {
    expectSpecError(
      () => resolveSpec('quick', quick, ['training.seg.steps=10']),
      'training.seg',
      /^quick: training\.seg: give one budget \(epochs, steps or minutes\), got epochs and steps$/,
    );
    expectSpecError(
      () => resolveSpec('quick', quick, ['training.dist.minutes=5']),
      'training.dist',
      /got epochs and minutes$/,
    );
    expectSpecError(
      () => resolveSpec('quick', quick, ['training.dist.epochs=null']),
      'training.dist',
      /got none$/,
    );
    // The same refusal from a spec file, which loadSpec reads.
    expectSpecError(
      () =>
        resolveSpec('f.json', {
          ...quick,
          training: { ...quick.training, seg: { ...quick.training.seg, minutes: 3 } },
        }),
      'training.seg',
      /^f\.json: training\.seg: give one budget \(epochs, steps or minutes\), got epochs and minutes$/,
    );
  });

  it('swaps a budget kind with --set key=null, and checks the lr schedule against the kind', () => {
    const steps = resolveSpec('quick', quick, [
      'training.seg.epochs=null',
      'training.seg.steps=10',
      'training.seg.lrSchedule={"factor":0.4,"drops":1}',
    ]).runs[0]!.spec.training.seg;
    expect([steps.epochs, steps.steps, steps.lrSchedule]).toEqual([undefined, 10, { factor: 0.4, drops: 1 }]);
    expectSpecError(
      () => resolveSpec('quick', quick, ['training.seg.epochs=null', 'training.seg.steps=10']),
      'training.seg.lrSchedule.every',
      /only for an epochs budget; a steps budget drops at equal fractions/,
    );
    expectSpecError(
      () => resolveSpec('quick', quick, ['training.seg.lrSchedule.drops=2']),
      'training.seg.lrSchedule.drops',
      /only for a steps or minutes budget/,
    );
    expectSpecError(
      () => resolveSpec('c', shipped, ['training.seg.lrSchedule.atSteps=[3000,2000]']),
      'training.seg.lrSchedule.atSteps',
      /strictly increasing step counts between 1 and the budget \(5888 steps\) - 1; entry 1 is 2000/,
    );
    expectSpecError(
      () => resolveSpec('c', shipped, ['training.dist.steps=null', 'training.dist.minutes=15']),
      'training.dist.lrSchedule.atSteps',
      /only for a steps budget/,
    );
  });

  it('ships the default model recipe with step budgets and its ablation as four runs', async () => {
    const c = await loadSpec('cpu-60min-c256');
    expect(c.runs).toHaveLength(1);
    expect([c.spec.training.seg.steps, c.spec.training.dist.steps]).toEqual([5888, 1664]);
    const a = await loadSpec('ablation-erosion-c256');
    expect(a.runs.map((r) => r.arm)).toEqual([
      { seed: 1, 'groundTruth.erosion': true },
      { seed: 1, 'groundTruth.erosion': false },
      { seed: 2, 'groundTruth.erosion': true },
      { seed: 2, 'groundTruth.erosion': false },
    ]);
    expect(a.spec.orchestration.maxParallelRuns).toBe(1);
    // Each arm is the shipped recipe with only erosion and seed changed (and its name), run one at a time.
    for (const r of a.runs) {
      const { maxParallelRuns, ...orchestration } = r.spec.orchestration;
      expect(maxParallelRuns).toBe(1);
      const same = { name: 'x', description: '', groundTruth: null, seed: 0 };
      expect({ ...r.spec, ...same, orchestration }).toEqual({ ...c.runs[0]!.spec, ...same });
    }
  });

  it('applies --set overrides, JSON-typed, aliases included', () => {
    const { runs } = resolveSpec('quick', quick, ['training.seg.epochs=5', 'gtErosion=false', 'seed=3']);
    expect(runs[0]!.spec.training.seg.epochs).toBe(5);
    expect(runs[0]!.spec.groundTruth.erosion).toBe(false);
    expect(runs[0]!.spec.seed).toBe(3);
    const m = resolveSpec('quick', quick, ['matrix={"seed":[1,2,3]}']);
    expect(m.runs.map((r) => r.spec.seed)).toEqual([1, 2, 3]);
  });

  it('takes a split, maxParallelRuns and inference.tta, and refuses what they do not allow', () => {
    const { spec, runs } = resolveSpec('quick', quick, [
      'dataset.split=kumar-val',
      'inference={"tta":true}',
      'orchestration.maxParallelRuns=2',
    ]);
    expect(runs[0]!.spec.dataset.split).toBe('kumar-val');
    expect(runs[0]!.spec.inference).toEqual({ tta: true });
    expect(spec.orchestration.maxParallelRuns).toBe(2);
    // Absent, none of them appears in the resolved spec, so older specs keep their config hashes.
    const plain = resolveSpec('quick', quick, []).runs[0]!.spec;
    expect('inference' in plain).toBe(false);
    expect('maxParallelRuns' in plain.orchestration).toBe(false);
    expect(() => resolveSpec('quick', quick, ['dataset.split=kumar-test'])).toThrow(/dataset\.split/);
    expect(() => resolveSpec('quick', quick, ['inference={"tta":1}'])).toThrow(/inference\.tta/);
    expect(() => resolveSpec('quick', quick, ['orchestration.maxParallelRuns=0'])).toThrow(
      /orchestration\.maxParallelRuns/,
    );
  });

  it('ships the general model: the shipped recipe on all 30 images, named general', async () => {
    const g = await loadSpec('general');
    const c = await loadSpec('cpu-60min-c256');
    expect(g.runs).toHaveLength(1);
    expect(g.spec.name).toBe('general');
    const { name: _n, description: _d, dataset, ...rest } = g.runs[0]!.spec;
    const { name: _m, description: _e, dataset: cd, ...shipped } = c.runs[0]!.spec;
    expect(dataset).toEqual({ ...cd, split: 'all' });
    expect(rest).toEqual(shipped);
  });

  it('ships the validation-split variant comparison: four runs, binary eroded against three-class', async () => {
    const v = await loadSpec('variants-val-c256');
    expect(
      v.runs.map((r) => [r.spec.seed, r.spec.groundTruth.target ?? 'binary', r.spec.groundTruth.erosion]),
    ).toEqual([
      [1, 'binary', true],
      [1, 'three-class', false],
      [2, 'binary', true],
      [2, 'three-class', false],
    ]);
    expect(v.runs.every((r) => r.spec.dataset.split === 'kumar-val')).toBe(true);
    expect(v.spec.orchestration.maxParallelRuns).toBe(1);
    const c = await loadSpec('cpu-60min-c256');
    expect(v.runs[0]!.spec.training).toEqual(c.runs[0]!.spec.training);
  });

  it('sets the fields of a matrix variant together, crossed with the other keys', () => {
    const { runs } = resolveSpec('quick', quick, [
      'matrix={"variant":[{"gtErosion":true},{"groundTruth.target":"three-class","gtErosion":false}],"seed":[1,2]}',
    ]);
    expect(runs.map((r) => r.arm)).toEqual([
      { 'groundTruth.erosion': true, seed: 1 },
      { 'groundTruth.erosion': true, seed: 2 },
      { 'groundTruth.target': 'three-class', 'groundTruth.erosion': false, seed: 1 },
      { 'groundTruth.target': 'three-class', 'groundTruth.erosion': false, seed: 2 },
    ]);
    expect(runs[2]!.spec.groundTruth).toMatchObject({ target: 'three-class', erosion: false });
    const bad = (m: string) => () => resolveSpec('quick', quick, [`matrix=${m}`]);
    expect(bad('{"variant":[{}]}')).toThrow(
      /matrix\.variant\[0\].*must be an object of field paths to values/,
    );
    expect(bad('{"variant":[{"groundTruth.colour":1}]}')).toThrow(
      /matrix\.variant\[0\]\.groundTruth\.colour.*'groundTruth\.colour' is not a field of the spec/,
    );
    expect(bad('{"variant":[{"seed":1}],"seed":[2]}')).toThrow(/'seed' is also set by another matrix key/);
    // A variant that breaks a rule is refused naming it.
    expect(bad('{"variant":[{"groundTruth.target":"three-class"}]}')).toThrow(/matrix\.variant\[0\]/);
  });

  it('takes the three-class target only without erosion, and a boundary width only with it', () => {
    const { runs } = resolveSpec('quick', quick, [
      'groundTruth.target=three-class',
      'gtErosion=false',
      'groundTruth.boundaryWidth=3',
    ]);
    expect(runs[0]!.spec.groundTruth).toEqual({
      erosion: false,
      erosionRadius: 1,
      target: 'three-class',
      boundaryWidth: 3,
    });
    expect(() => resolveSpec('quick', quick, ['groundTruth.target=three-class'])).toThrow(
      /groundTruth\.erosion.*the three-class target marks the boundary instead of eroding; set it to false/,
    );
    expect(() => resolveSpec('quick', quick, ['groundTruth.boundaryWidth=2'])).toThrow(
      /groundTruth\.boundaryWidth.*applies only to target three-class/,
    );
    expect('target' in resolveSpec('quick', quick, []).runs[0]!.spec.groundTruth).toBe(false);
    expect(() => resolveSpec('quick', quick, ['postprocess.markers=interior'])).toThrow(
      /postprocess\.markers.*'interior' seeds come from a three-class net/,
    );
    expect(() => resolveSpec('quick', quick, ['postprocess.grid.markers=["distance","interior"]'])).toThrow(
      /postprocess\.grid\.markers.*'interior' seeds come from a three-class net/,
    );
    const three = ['groundTruth.target=three-class', 'gtErosion=false'];
    expect(() =>
      resolveSpec('quick', quick, [
        ...three,
        'postprocess.grid.markers=["interior"]',
        'postprocess.markers=interior',
      ]),
    ).toThrow(/give the seed rule once/);
    expect(
      resolveSpec('quick', quick, [...three, 'postprocess.grid.markers=["distance","interior"]']).runs[0]!
        .spec.postprocess.grid,
    ).toMatchObject({ markers: ['distance', 'interior'] });
  });

  it('takes dropout and instance growth as optional fields that a matrix can vary', () => {
    const plain = resolveSpec('quick', quick).runs[0]!;
    expect(plain.spec.training.seg.dropout).toBeUndefined();
    expect(plain.spec.postprocess.expand).toBeUndefined();
    // quick tunes expand on a grid; without the grid expand is a field of its own.
    const { runs } = resolveSpec('quick', quick, [
      'postprocess.grid=false',
      'matrix={"training.seg.dropout":[true,false],"postprocess.expand":[0,1]}',
    ]);
    expect(runs.map((r) => [r.spec.training.seg.dropout, r.spec.postprocess.expand])).toEqual([
      [true, 0],
      [true, 1],
      [false, 0],
      [false, 1],
    ]);
    expect(new Set(runs.map((r) => r.configHash)).size).toBe(4);
    expectSpecError(
      () => resolveSpec('s', quick, ['matrix={"training.seg.dropot":[true,false]}']),
      'matrix.training.seg.dropot',
      /'training.seg.dropot' is not a field of the spec/,
    );
    expectSpecError(
      () => resolveSpec('s', quick, ['postprocess.expand=1.5']),
      'postprocess.expand',
      /expected int/,
    );
  });

  it('rejects bad specs with the path of the offending field', () => {
    expectSpecError(() => resolveSpec('s', { ...quick, colour: 1 }), 'colour', /unknown key/);
    expectSpecError(
      () => resolveSpec('s', quick, ['training.seg.lrScheduel={"every":1}']),
      'training.seg.lrScheduel',
      /unknown key/,
    );
    expectSpecError(
      () => resolveSpec('s', quick, ['training.seg.epochs="ten"']),
      'training.seg.epochs',
      /number/,
    );
    expectSpecError(
      () => resolveSpec('s', quick, ['training.dist.inputSize=100']),
      'training.dist.inputSize',
      /16/,
    );
    const { dataset: _d, ...noDataset } = quick;
    expectSpecError(() => resolveSpec('s', noDataset), 'dataset', /required/);
    expectSpecError(() => resolveSpec('s', quick, ['dataset.name="camelyon"']), 'dataset.name', /monuseg/);
  });

  it('rejects impossible matrices', () => {
    const m = (matrix: unknown) => () => resolveSpec('s', { ...quick, matrix });
    expectSpecError(m({ 'groundTruth.erodeMore': [true] }), 'matrix.groundTruth.erodeMore', /not a field/);
    expectSpecError(m({ gtErosion: [] }), 'matrix.gtErosion', /at least one/);
    expectSpecError(m({ gtErosion: [true, true] }), 'matrix.gtErosion', /same value twice/);
    expectSpecError(m({ training: [1, 2] }), 'matrix.training', /section/);
    expectSpecError(
      m({ 'training.seg.inputSize': [128, 100] }),
      'matrix.training.seg.inputSize[1] -> training.seg.inputSize',
      /16/,
    );
    expectSpecError(m({ seed: [...Array(65).keys()] }), 'matrix', /at most 64/);
    expectSpecError(m({ description: ['a', 'b'] }), 'matrix.description', /cannot vary/);
  });

  it('rejects a missing spec file and a missing --set parent', async () => {
    await expect(loadSpec('nope')).rejects.toThrow(/no such spec/);
    expectSpecError(() => resolveSpec('s', quick, ['foo.bar=1']), 'foo.bar', /not a section/);
  });
});
