/** The OS icon shown in the list and details: small SVGs drawn for Vireo, in assets/os-icons/. */
import type { OsFamily } from '../../../../preload/contract';
import bsd from '../../../../assets/os-icons/bsd.svg';
import linux from '../../../../assets/os-icons/linux.svg';
import other from '../../../../assets/os-icons/other.svg';
import windows from '../../../../assets/os-icons/windows.svg';

const ICONS: Record<OsFamily, string> = { linux, windows, bsd, other };
const NAMES: Record<OsFamily, string> = {
  linux: 'Linux',
  windows: 'Windows',
  bsd: 'BSD',
  other: 'Other OS',
};

export function OsIcon({ family, size = 32 }: { family: OsFamily; size?: number }) {
  return (
    <img
      src={ICONS[family] ?? ICONS.other}
      width={size}
      height={size}
      alt={NAMES[family] ?? NAMES.other}
      draggable={false}
    />
  );
}
