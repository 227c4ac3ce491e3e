/**
 * Identity-mapped page tables for the 64-bit entry (boot.rst, "64-bit BOOT PROTOCOL": "the
 * range with setup_header.init_size from start address of loaded kernel and zero page and
 * command line buffer get ident mapping"). Four-level paging with 2 MiB pages (Intel SDM
 * vol. 3A, 4.5 "4-Level Paging", tables 4-15, 4-17, 4-18): one PML4 entry -> one PDPT whose
 * first four entries -> four page directories of 512 x 2 MiB = the first 4 GiB. Linux builds
 * its own tables right after entry, so the rest of RAM does not need mapping here.
 *
 * Runtime: engine.
 */
import type { GuestMemory } from '../../memory.js';
import { PD_ADDRESS, PD_COUNT, PDPT_ADDRESS, PML4_ADDRESS } from './layout.js';

export const PAGE_PRESENT = 0x1n;
export const PAGE_WRITABLE = 0x2n;
/** PS bit in a page-directory entry: maps a 2 MiB page (SDM table 4-18). */
export const PAGE_SIZE_2M = 0x80n;
const TWO_MIB = 0x20_0000n;

export function writeIdentityPageTables(memory: GuestMemory): { cr3: number } {
  memory.slice(PML4_ADDRESS, 0x1000).fill(0);
  memory.slice(PDPT_ADDRESS, 0x1000).fill(0);
  memory.writeU64(PML4_ADDRESS, BigInt(PDPT_ADDRESS) | PAGE_PRESENT | PAGE_WRITABLE);
  for (let gib = 0; gib < PD_COUNT; gib++) {
    const pd = PD_ADDRESS + gib * 0x1000;
    memory.writeU64(PDPT_ADDRESS + gib * 8, BigInt(pd) | PAGE_PRESENT | PAGE_WRITABLE);
    for (let i = 0; i < 512; i++) {
      const physical = (BigInt(gib) * 512n + BigInt(i)) * TWO_MIB;
      memory.writeU64(pd + i * 8, physical | PAGE_PRESENT | PAGE_WRITABLE | PAGE_SIZE_2M);
    }
  }
  return { cr3: PML4_ADDRESS };
}

/**
 * Translate a virtual address by walking the tables in guest memory the way the MMU does (used
 * by tests to prove the mapping; returns null where the walk hits a non-present entry).
 */
export function walkPageTables(memory: GuestMemory, cr3: number, virtual: bigint): bigint | null {
  const entry = (table: bigint, index: bigint): bigint => {
    const address = Number((table & 0x000f_ffff_ffff_f000n) + index * 8n);
    return memory.readU64(address);
  };
  const pml4e = entry(BigInt(cr3), (virtual >> 39n) & 0x1ffn);
  if (!(pml4e & PAGE_PRESENT)) return null;
  const pdpte = entry(pml4e, (virtual >> 30n) & 0x1ffn);
  if (!(pdpte & PAGE_PRESENT)) return null;
  if (pdpte & PAGE_SIZE_2M) return (pdpte & 0x000f_ffff_c000_0000n) | (virtual & 0x3fff_ffffn);
  const pde = entry(pdpte, (virtual >> 21n) & 0x1ffn);
  if (!(pde & PAGE_PRESENT)) return null;
  if (pde & PAGE_SIZE_2M) return (pde & 0x000f_ffff_ffe0_0000n) | (virtual & 0x1f_ffffn);
  const pte = entry(pde, (virtual >> 12n) & 0x1ffn);
  if (!(pte & PAGE_PRESENT)) return null;
  return (pte & 0x000f_ffff_ffff_f000n) | (virtual & 0xfffn);
}
