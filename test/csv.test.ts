import { describe, expect, it } from 'vitest';
import { instanceStatsCsv } from '../src/imaging/instance-stats.ts';
import { csvField, toCsv } from '../src/io/csv.ts';
import { type ResultRow, resultsCsv } from '../src/tracking/report.ts';

describe('CSV writer', () => {
  it('quotes exactly the fields RFC 4180 requires, doubling quotes', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\rhere')).toBe('"cr\rhere"');
    expect(csvField(' spaced ')).toBe(' spaced ');
    expect(csvField(0.25)).toBe('0.25');
    expect(csvField(null)).toBe('');
    expect(csvField(undefined)).toBe('');
    expect(csvField('')).toBe('');
  });

  it('writes a header and rows, LF-terminated, and refuses a row of the wrong width', () => {
    expect(
      toCsv(
        ['id', 'note'],
        [
          [1, 'x,y'],
          [2, null],
        ],
      ),
    ).toBe('id,note\n1,"x,y"\n2,\n');
    expect(toCsv(['a'], [])).toBe('a\n');
    expect(() => toCsv(['a', 'b'], [[1]])).toThrow(/a row has 1 fields, the header 2/);
  });

  it('is what the results and instance CSVs are written with (an organ name with a comma is quoted)', () => {
    const row: ResultRow = {
      image: 'TCGA-1',
      organ: 'Head, neck',
      subset: 'seen',
      dice: 0.8,
      f1: 0.7,
      aji: 0.6,
      ajiPlus: 0.5,
      pq: 0.4,
      nGt: 3,
      nPred: 4,
    };
    expect(resultsCsv([row])).toBe(
      'image,organ,subset,dice,f1,aji,ajiPlus,pq,n_gt,n_pred\nTCGA-1,"Head, neck",seen,0.8,0.7,0.6,0.5,0.4,3,4\n',
    );
    expect(
      instanceStatsCsv([{ id: 7, area: 12, centroidX: 1.234, centroidY: 5, meanIntensity: 99.999 }]),
    ).toBe('id,area,centroid_x,centroid_y,mean_intensity\n7,12,1.23,5.00,100.00\n');
  });
});
