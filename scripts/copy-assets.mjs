// Copies the non-TypeScript files (templates, page assets) next to the compiled code in dist/.
import { cpSync } from 'node:fs';

for (const dir of ['delivery/templates', 'web/views', 'web/assets']) {
  cpSync(`src/${dir}`, `dist/${dir}`, { recursive: true });
}
