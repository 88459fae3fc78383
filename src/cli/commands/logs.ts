import type { Command } from 'commander';
import { contextOf } from '../context.js';
import { type ApiTask, followTask, OutputPrinter, printStoredOutput } from './follow.js';
import { checkTaskId } from './tasks.js';

export function registerLogs(program: Command): void {
  program
    .command('logs <taskId>')
    .description('print a task’s output (stdout to stdout, stderr to stderr); -o json: one object per line')
    .option('-f, --follow', 'keep streaming until the task ends')
    .action(async (id: string, flags: { follow?: boolean }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const task = await client.get<ApiTask>(`/tasks/${checkTaskId(id)}`);
      const printer = new OutputPrinter(format, task);
      const archive = task.outputArchive as string | null;
      if (archive !== null && archive !== 'none') {
        process.stderr.write(`rediacc: the output of this task was archived to ${archive} (on the server)\n`);
      }
      if (flags.follow === true) await followTask(client, task.taskId, printer);
      else await printStoredOutput(client, task, printer);
    });
}
