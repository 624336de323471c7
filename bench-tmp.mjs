import { openDockerArchive } from '@tsbuild/oci-layout';
import { analyzeImage } from '@tsbuild/inspect-tui';
import { formatDiveExport } from './packages/inspect-tui/dist/report/diveJson.js';
const img = await openDockerArchive('/tmp/big.tar');
let t = Date.now();
const a = await analyzeImage(img);
console.log('analyze', Date.now() - t, 'rss', process.memoryUsage().rss >> 20);
global.gc(); console.log('heap after gc', process.memoryUsage().heapUsed >> 20);
t = Date.now(); const s = formatDiveExport(a); console.log('json', Date.now() - t, s.length >> 20, 'MB', 'rss', process.memoryUsage().rss >> 20);
