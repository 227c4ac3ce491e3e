import type { OsFamily } from '../../../../preload/contract';

const COLORS: Record<OsFamily, string> = {
  linux: '#e8a317',
  windows: '#1f7ad6',
  bsd: '#b3261e',
  other: '#6b7280',
};
const LETTERS: Record<OsFamily, string> = { linux: 'L', windows: 'W', bsd: 'B', other: '?' };

/** A small badge per OS family, drawn here (no external artwork). */
export function OsIcon({ family, size = 32 }: { family: OsFamily; size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 32 32" aria-label={`${family} icon`} role="img">
      <rect x="2" y="4" width="28" height="20" rx="3" fill={COLORS[family]} />
      <rect x="11" y="25" width="10" height="3" rx="1" fill="#9ca3af" />
      <text
        x="16"
        y="19"
        textAnchor="middle"
        fontSize="13"
        fontWeight="700"
        fill="#fff"
        fontFamily="system-ui, sans-serif"
      >
        {LETTERS[family]}
      </text>
    </svg>
  );
}
