import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/App';
import { ConsoleWindow } from './features/console/ConsoleWindow';
import { consoleVmId } from './features/console/console-route';
import './app/styles.css';

// One bundle, two windows: the main window, or a VM's console (`#console=<id>`).
const consoleFor = consoleVmId(location.hash);

createRoot(document.getElementById('root')!).render(
  <StrictMode>{consoleFor ? <ConsoleWindow vmId={consoleFor} /> : <App />}</StrictMode>,
);
