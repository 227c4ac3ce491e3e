/**
 * The VM config schema (preload/vm-config.ts) and the bridge calls' argument schemas
 * (preload/contract.ts): the same schemas guard the files on disk and every renderer call.
 */
import { describe, expect, it } from 'vitest';
import { calls, VmConfig, VmName } from '../../../preload/contract';

const valid = {
  version: 1,
  id: '0b7e3f6c-2a7d-4c1e-9b8a-1f2e3d4c5b6a',
  name: 'Debian 12',
  description: '',
  os: { family: 'linux', id: 'debian-12' },
  cpus: 2,
  memoryMiB: 2048,
  boot: { source: 'firmware', order: ['cdrom', 'disk'] },
  disks: [
    { path: 'Debian 12.qcow2', format: 'qcow2', sizeMiB: 20480, allocation: 'thin', bus: 'virtio' },
  ],
  optical: { iso: '/isos/debian-12.iso' },
  network: { adapter: 'virtio-net', mac: '52:54:00:12:34:56' },
  display: { vramMiB: 16 },
  serial: { enabled: true },
  createdAt: '2026-11-24T17:00:00.000Z',
};

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
    ['version', { ...valid, version: 2 }],
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
      calls['vm.update'].args.safeParse({ id: valid.id, changes: { cpus: 2, root: true } }).success,
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
