import { create } from 'zustand';

/** Whether the bridge is connected (browser mode can lose its server). */
export const useConnection = create<{ connected: boolean }>(() => ({ connected: true }));
