import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UndoLog } from './undo.ts';

describe('UndoLog', () => {
  it('undoes newest first, keeps going past a failing step, and reports both', async () => {
    const log = new UndoLog();
    const ran: string[] = [];
    log.add('release lease', async () => void ran.push('lease'));
    log.add('delete flannel.1', async () => {
      ran.push('device');
      throw new Error('EBUSY');
    });
    log.add('remove rules', async () => void ran.push('rules'));
    const report = await log.unwind(AbortSignal.timeout(1000));
    assert.deepEqual(ran, ['rules', 'device', 'lease']);
    assert.deepEqual(report, { undone: ['remove rules', 'release lease'], failed: [{ what: 'delete flannel.1', error: 'EBUSY' }] });
    assert.equal(log.size, 0);
  });
  it('forgets everything on commit', async () => {
    const log = new UndoLog();
    let ran = false;
    log.add('x', async () => void (ran = true));
    log.commit();
    assert.deepEqual(await log.unwind(AbortSignal.timeout(1000)), { undone: [], failed: [] });
    assert.equal(ran, false);
  });
});
