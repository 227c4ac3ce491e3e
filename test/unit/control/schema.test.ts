/**
 * The VM config schema (preload/vm-config.ts) and the bridge calls' argument schemas
 * (preload/contract.ts): the same schemas guard the files on disk and every renderer call.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { calls, VmConfig, VmName } from '../../../preload/contract';

/** The example config in docs/library.md: the first ```json block after "## The config file". */
function documentedExample(): Record<string, unknown> {
  const doc = readFileSync(path.resolve(import.meta.dirname, '../../../docs/library.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## The config file'));
  const block = /```json\n([\s\S]*?)\n```/.exec(section);
  if (!block) throw new Error('docs/library.md has no example config');
  return JSON.parse(block[1]!) as Record<string, unknown>;
}

const valid = documentedExample() as {
  disks: Record<string, unknown>[];
} & Record<string, unknown>;

/** The path of the first schema issue, as the user sees it in "field: message". */
function firstIssue(value: unknown): string {
  const result = VmConfig.safeParse(value);
  expect(result.success).toBe(false);
  return result.error!.issues[0]!.path.join('.');
}

describe('the VM config schema', () => {
  it('accepts the documented example (docs/library.md)', () => {
    expect(VmConfig.parse(valid)).toEqual(valid);
  });

  it.each([
    ['version', { ...valid, version: 3 }],
    ['bootMenu.timeoutMs', { ...valid, bootMenu: { enabled: true, timeoutMs: 70000 } }],
    ['id', { ...valid, id: 'nope' }],
    ['cpus', { ...valid, cpus: 0 }],
    ['memoryMiB', { ...valid, memoryMiB: 1.5 }],
    ['boot.order', { ...valid, boot: { source: 'firmware', order: [] } }],
    ['disks.0.format', { ...valid, disks: [{ ...valid.disks[0], format: 'vmdk' }] }],
    ['network.mac', { ...valid, network: { adapter: 'virtio-net', mac: '53:54:00:12:34:56' } }],
    ['network.mac', { ...valid, network: { adapter: 'virtio-net', mac: 'zz' } }],
    ['display.vramMiB', { ...valid, display: { vramMiB: 4096 } }],
    ['createdAt', { ...valid, createdAt: 'yesterday' }],
  ])('names the bad field %s', (field, config) => {
    expect(firstIssue(config)).toBe(field);
  });

  it('says which field is wrong in the words docs/library.md quotes', () => {
    const result = VmConfig.safeParse({ ...valid, cpus: 0 });
    expect(result.error!.issues[0]!.message).toBe('Too small: expected number to be >=1');
  });

  it.each(['', '.hidden', 'a/b', 'a\\b', 'x'.repeat(65), 'tab\there', 'what?'])(
    'refuses the VM name %j, which could not be a folder name',
    (name) => {
      expect(VmName.safeParse(name).success).toBe(false);
    },
  );
});

describe('bridge call arguments', () => {
  it('refuses extra fields, wrong types and oversized values', () => {
    expect(calls['vm.get'].args.safeParse({ id: 'x', extra: 1 }).success).toBe(false);
    expect(calls['vm.get'].args.safeParse({ id: 'x'.repeat(300) }).success).toBe(false);
    expect(calls['vm.update'].args.safeParse({ id: 'not-a-uuid', changes: {} }).success).toBe(
      false,
    );
    expect(
      calls['vm.update'].args.safeParse({
        id: valid.id as string,
        changes: { cpus: 2, root: true },
      }).success,
    ).toBe(false);
    expect(calls['iso.inspect'].args.safeParse({ path: 'a\u0000b' }).success).toBe(false);
    expect(
      calls['vm.create'].args.safeParse({
        name: 'x',
        folder: null,
        os: { family: 'linux', id: 'alpine' },
        cpus: 65,
        memoryMiB: 512,
        disk: null,
        iso: null,
      }).success,
    ).toBe(false);
    expect(
      calls['files.list'].args.safeParse({ path: null, extensions: Array(17).fill('iso') }).success,
    ).toBe(false);
  });
});
