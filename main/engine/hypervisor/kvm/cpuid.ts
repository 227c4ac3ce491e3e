/**
 * The CPUID table each vCPU gets: KVM_GET_SUPPORTED_CPUID (what this host's CPU and KVM can
 * virtualise) with our own vendor-neutral tweaks, the ones every VMM makes (Firecracker's
 * cpuid/common, kvmtool's x86/cpuid.c), written from the Intel SDM vol. 2A "CPUID" and AMD's
 * APM vol. 3 appendix E:
 * - leaf 1 EBX[31:24] initial APIC id = vCPU index, EBX[23:16] logical processors per package,
 *   EDX[28] HTT when there is more than one;
 * - leaf 1 ECX[31] "hypervisor present" (reserved for this use by both vendors);
 * - leaves 0xB and 0x1F EDX = x2APIC id = vCPU index;
 * - the vendor string and KVM's paravirt leaves (0x40000000..) are left as KVM reports them.
 *
 * Runtime: engine (pure).
 */
import type { CpuidEntry } from './kvm-structs.js';

const LEAF_FEATURES = 1;
const LEAF_EXTENDED_TOPOLOGY = 0xb;
const LEAF_V2_EXTENDED_TOPOLOGY = 0x1f;
const ECX_HYPERVISOR = 1 << 31;
const EDX_HTT = 1 << 28;

export function cpuidForVcpu(
  supported: readonly CpuidEntry[],
  vcpuIndex: number,
  vcpuCount: number,
): CpuidEntry[] {
  return supported.map((entry) => {
    const e = { ...entry };
    if (e.function === LEAF_FEATURES) {
      e.ebx =
        ((e.ebx & 0x0000ffff) | ((vcpuCount & 0xff) << 16) | ((vcpuIndex & 0xff) << 24)) >>> 0;
      e.ecx = (e.ecx | ECX_HYPERVISOR) >>> 0;
      e.edx = vcpuCount > 1 ? (e.edx | EDX_HTT) >>> 0 : (e.edx & ~EDX_HTT) >>> 0;
    } else if (e.function === LEAF_EXTENDED_TOPOLOGY || e.function === LEAF_V2_EXTENDED_TOPOLOGY) {
      e.edx = vcpuIndex >>> 0;
    }
    return e;
  });
}
