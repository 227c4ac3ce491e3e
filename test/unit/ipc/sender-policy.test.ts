/** Which IPC senders main/app lets through to the router (Electron security checklist item 17). */
import { describe, expect, it } from 'vitest';
import { APP_ENTRY_URL, isAppUrl, isTrustedSender } from '../../../main/app/sender-policy';

const ok = { frameUrl: APP_ENTRY_URL, isTopFrame: true, fromOurWindow: true };

describe('the IPC sender policy', () => {
  it('trusts only the top frame of our own windows on vireo://app/', () => {
    expect(isTrustedSender(ok)).toBe(true);
    expect(isTrustedSender({ ...ok, frameUrl: 'vireo://app/vm/1/console' })).toBe(true);
    expect(isTrustedSender({ ...ok, isTopFrame: false })).toBe(false);
    expect(isTrustedSender({ ...ok, fromOurWindow: false })).toBe(false);
    expect(isTrustedSender({ ...ok, frameUrl: null })).toBe(false);
  });

  it('refuses look-alike origins', () => {
    for (const url of [
      'https://app/index.html',
      'file:///work/out/renderer/index.html',
      'vireo://app.evil/index.html',
      'vireo://evil/app/index.html',
      'vireo://user@app/index.html',
      'vireo://app:80@evil/index.html',
      'VIREO://evil/',
      'about:blank',
      'data:text/html,<script>',
      '',
      'vireo:app',
    ]) {
      expect(isAppUrl(url), url).toBe(false);
      expect(isTrustedSender({ ...ok, frameUrl: url }), url).toBe(false);
    }
    expect(isAppUrl('vireo://app/')).toBe(true);
  });
});
