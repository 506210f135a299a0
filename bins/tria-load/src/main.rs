//! `tria-load`: parse the command line, run, print the table; exit 1 when targets are not met
//! (or `compare` finds a regression), 2 on bad input.
#![allow(clippy::print_stdout, clippy::print_stderr)] // a command-line tool talks on stdout

use std::process::ExitCode;

use clap::Parser;
use tria_load::cli::{Cli, Command};
use tria_load::report::Report;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("tria-load: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::List => {
            print!("{}", tria_load::list()?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Compare(args) => {
            let comparison = tria_load::compare::compare(&Report::read(&args.baseline)?, &Report::read(&args.candidate)?, args.threshold);
            println!("{comparison}");
            Ok(if comparison.has_regressions() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
        Command::Run(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            let report = runtime.block_on(tria_load::run(&args))?;
            println!("{}", tria_load::table::render(&report));
            println!("report: {} and {}", args.out.display(), args.html.display());
            Ok(if report.passed || args.no_fail { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}
