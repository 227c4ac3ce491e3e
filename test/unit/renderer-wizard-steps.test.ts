/** The New VM wizard's rules (renderer/src/features/wizard/wizard-steps.ts), without a browser. */
import { describe, expect, it } from 'vitest';
import {
  memoryWarning,
  STEP,
  stepForCreateError,
  validateStep,
  type WizardFields,
} from '../../renderer/src/features/wizard/wizard-steps.js';

const host = { cores: 4, memoryMiB: 8192 };
const ok: WizardFields = {
  name: 'Web Server',
  cpus: 2,
  memoryMiB: 2048,
  withDisk: true,
  diskGiB: 20,
};

describe('validateStep', () => {
  it('accepts a complete, sensible VM on every step', () => {
    for (let step = 0; step <= STEP.summary; step++)
      expect(validateStep(step, ok, host)).toBeNull();
  });

  it('refuses an empty, blank or unsafe name with the schema message', () => {
    expect(validateStep(STEP.name, { ...ok, name: '' }, host)).toBe('Name is required');
    expect(validateStep(STEP.name, { ...ok, name: '   ' }, host)).toBe('Name is required');
    expect(validateStep(STEP.name, { ...ok, name: 'a/b' }, host)).toMatch(/may not .* contain \//);
    expect(validateStep(STEP.name, { ...ok, name: '.hidden' }, host)).toMatch(/start with a dot/);
  });

  it("keeps CPUs and memory within the host's cores and RAM", () => {
    expect(validateStep(STEP.hardware, { ...ok, cpus: 5 }, host)).toMatch(/from 1 to 4/);
    expect(validateStep(STEP.hardware, { ...ok, cpus: 0 }, host)).toMatch(/from 1 to 4/);
    expect(validateStep(STEP.hardware, { ...ok, cpus: 1.5 }, host)).toMatch(/whole number/);
    expect(validateStep(STEP.hardware, { ...ok, memoryMiB: 8193 }, host)).toMatch(/to 8192/);
    expect(validateStep(STEP.hardware, { ...ok, memoryMiB: Number.NaN }, host)).toMatch(/Memory/);
    expect(validateStep(STEP.hardware, { ...ok, memoryMiB: 8192, cpus: 4 }, host)).toBeNull();
  });

  it('checks the disk size only when a disk is to be created', () => {
    expect(validateStep(STEP.disk, { ...ok, diskGiB: 0 }, host)).toMatch(/Disk size/);
    expect(validateStep(STEP.disk, { ...ok, diskGiB: 70000 }, host)).toMatch(/Disk size/);
    expect(validateStep(STEP.disk, { ...ok, diskGiB: 0, withDisk: false }, host)).toBeNull();
  });
});

describe('memoryWarning', () => {
  it('warns above half and above three quarters of the host RAM', () => {
    expect(memoryWarning(4096, 8192)).toBeNull();
    expect(memoryWarning(4100, 8192)).toMatch(/half/);
    expect(memoryWarning(6200, 8192)).toMatch(/75%/);
  });
});

describe('stepForCreateError', () => {
  it("sends the control plane's refusals to the step that can fix them", () => {
    // Wording from main/control/library.ts.
    expect(stepForCreateError('A VM called "Web" already exists: choose another name.')).toBe(
      STEP.name,
    );
    expect(
      stepForCreateError('The folder /x/Web already exists: choose another name or folder.'),
    ).toBe(STEP.name);
    expect(stepForCreateError('Cannot create the folder /x/disk: EACCES')).toBe(STEP.name);
    expect(stepForCreateError('Unknown OS type "x" (linux): choose one from the list.')).toBe(
      STEP.os,
    );
    expect(stepForCreateError('8 CPUs requested but this host has 4: choose 4 or fewer.')).toBe(
      STEP.hardware,
    );
    expect(
      stepForCreateError('9000 MiB of memory requested but this host has 8192 MiB: choose less.'),
    ).toBe(STEP.hardware);
    expect(
      stepForCreateError('ISO image /x/a.iso not found at /x/a.iso: choose another file.'),
    ).toBe(STEP.optical);
  });

  it("reads the field from the router's schema errors", () => {
    expect(stepForCreateError('Invalid arguments for vm.create: disk.sizeMiB: Too big.')).toBe(
      STEP.disk,
    );
    expect(stepForCreateError('Invalid arguments for vm.create: memoryMiB: Too small.')).toBe(
      STEP.hardware,
    );
    expect(stepForCreateError('Invalid arguments for vm.create: iso: Too long.')).toBe(
      STEP.optical,
    );
    expect(stepForCreateError('Invalid arguments for vm.create: name: Name is required')).toBe(
      STEP.name,
    );
  });

  it('keeps anything else on the summary', () => {
    expect(stepForCreateError('Lost the connection to the Vireo server.')).toBe(STEP.summary);
    expect(stepForCreateError('Invalid arguments for vm.create: boot: bad')).toBe(STEP.summary);
  });
});
