import { lazy, StrictMode, Suspense } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/App';
import { consoleVmId } from './features/console/console-route';
import './app/styles.css';

// One bundle, two windows: the main window, or a VM's console (`#console=<id>`), loaded apart so
// the main window does not wait for it.
const ConsoleWindow = lazy(() =>
  import('./features/console/ConsoleWindow').then((m) => ({ default: m.ConsoleWindow })),
);
const consoleFor = consoleVmId(location.hash);

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    {consoleFor ? (
      <Suspense fallback={null}>
        <ConsoleWindow vmId={consoleFor} />
      </Suspense>
    ) : (
      <App />
    )}
  </StrictMode>,
);
