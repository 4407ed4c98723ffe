# Shared by the Pester tests (tests/*.Tests.ps1); dot-sourced in BeforeAll. Not a test file itself.
# The module under test is the assembled out/DbSync (build.ps1). PostgreSQL comes from DBSYNC_TEST_PG (build.ps1
# starts a throwaway server when it is not set). SQLite and PostgreSQL are read through the module's own
# Microsoft.Data.Sqlite and Npgsql, so the tests need nothing else installed.

$script:RepoRoot = Split-Path $PSScriptRoot -Parent
$script:ModuleManifest = Join-Path $script:RepoRoot 'out/DbSync/DbSync.psd1'
$script:Chinook = [System.IO.Path]::GetFullPath((Join-Path $script:RepoRoot '../shared/data/chinook.sqlite'))
$script:Pg = $env:DBSYNC_TEST_PG
if (-not (Test-Path $script:ModuleManifest)) { throw "Build the module first: ./build.ps1 (missing $script:ModuleManifest)" }
if (-not $script:Pg) { throw 'DBSYNC_TEST_PG is not set (build.ps1 -Test sets it)' }
if (-not (Test-Path $script:Chinook)) { throw "Missing $script:Chinook" }
Import-Module $script:ModuleManifest -Force -ErrorAction Stop

function Get-PgPassword { ($script:Pg -split ';' | Where-Object { $_ -match '^\s*Password\s*=' }) -replace '^\s*Password\s*=\s*', '' }

function Get-PgWithoutPassword { ($script:Pg -split ';' | Where-Object { $_ -and $_ -notmatch '^\s*Password\s*=' }) -join ';' }

function New-TestSchema { 'p_' + [guid]::NewGuid().ToString('N').Substring(0, 12) }

function Copy-Chinook([string] $Name = 'chinook.sqlite') {
    $path = Join-Path $TestDrive $Name
    Copy-Item -LiteralPath $script:Chinook -Destination $path
    $path
}

function Get-ModuleType([string] $Assembly, [string] $Type) {
    # Loaded into the module's load context by the first cmdlet that touched SQLite or PostgreSQL.
    if (-not ([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq $Assembly })) {
        Get-DbSyncStatus -LiteralPath $script:Chinook -ConnectionString $script:Pg | Out-Null
    }
    ([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq $Assembly } | Select-Object -First 1).GetType($Type, $true)
}

function Invoke-Pg([string] $Sql, [switch] $Scalar) {
    $connection = [Activator]::CreateInstance((Get-ModuleType 'Npgsql' 'Npgsql.NpgsqlConnection'), $script:Pg)
    try {
        $connection.Open()
        $command = $connection.CreateCommand()
        $command.CommandText = $Sql
        if ($Scalar) { $command.ExecuteScalar() } else { $null = $command.ExecuteNonQuery() }
    }
    finally { $connection.Dispose() }
}

function Invoke-Sqlite([string] $Path, [string] $Sql, [switch] $Scalar) {
    $type = Get-ModuleType 'Microsoft.Data.Sqlite' 'Microsoft.Data.Sqlite.SqliteConnection'
    $connection = [Activator]::CreateInstance($type, "Data Source=$Path;Pooling=False")
    try {
        $connection.Open()
        $command = $connection.CreateCommand()
        $command.CommandText = $Sql
        if ($Scalar) { $command.ExecuteScalar() } else { $null = $command.ExecuteNonQuery() }
    }
    finally { $connection.Dispose() }
}

function Remove-TestSchema([string] $Schema) {
    if ($Schema) { Invoke-Pg "DROP SCHEMA IF EXISTS `"$Schema`" CASCADE" }
}

function New-TestFolder([string] $Prefix) {
    # An empty folder of its own under TestDrive.
    $folder = Join-Path $TestDrive ($Prefix + '-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
    New-Item -ItemType Directory $folder | Out-Null
    $folder
}

function New-ShopFolder([string] $Database, [string] $Prefix) {
    # A folder of three shops for multi-file pipelines: a.sqlite and c.sqlite copies of $Database, b.sqlite not SQLite.
    $folder = New-TestFolder $Prefix
    Copy-Item -LiteralPath $Database (Join-Path $folder 'a.sqlite')
    'not a database' | Set-Content (Join-Path $folder 'b.sqlite')
    Copy-Item -LiteralPath $Database (Join-Path $folder 'c.sqlite')
    $folder
}

function Get-FileHashText([string] $Path) { (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash }

function Get-ChildPwsh {
    # The program that starts another pwsh like this one, and the arguments that go before pwsh's own: pwsh
    # installed as a .NET tool (dotnet tool install PowerShell) runs as "dotnet pwsh.dll", and the process's path
    # is dotnet's, which given -NoProfile alone looks for a "dotnet--NoProfile" command.
    $path = (Get-Process -Id $PID).Path
    $leading = if ([System.IO.Path]::GetFileNameWithoutExtension($path) -eq 'dotnet') { @(Join-Path $PSHOME 'pwsh.dll') } else { @() }
    [pscustomobject]@{ Path = $path; Leading = $leading }
}

function Invoke-ChildPwsh([string] $Script, [int] $TimeoutSeconds = 0) {
    # A separate, non-interactive pwsh: for host output (-WhatIf lines) and for proving nothing prompts. With a
    # timeout, a child still running then is killed and reported as exit code -1 (a hang fails, rather than blocks).
    $pwsh = Get-ChildPwsh
    $full = "`$ErrorActionPreference = 'Stop'; Import-Module '$script:ModuleManifest'; $Script"
    if ($TimeoutSeconds -le 0) {
        $output = & $pwsh.Path @($pwsh.Leading) -NoProfile -NonInteractive -Command $full 2>&1 | Out-String
        return [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = $output }
    }

    $info = [System.Diagnostics.ProcessStartInfo]::new($pwsh.Path)
    foreach ($argument in @($pwsh.Leading) + @('-NoProfile', '-NonInteractive', '-Command', $full)) { $info.ArgumentList.Add($argument) }
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    $child = [System.Diagnostics.Process]::Start($info)
    $stdout = $child.StandardOutput.ReadToEndAsync()
    $stderr = $child.StandardError.ReadToEndAsync()
    if (-not $child.WaitForExit($TimeoutSeconds * 1000)) {
        $child.Kill($true)
        $child.WaitForExit()
        return [pscustomobject]@{ ExitCode = -1; Output = "still running after $TimeoutSeconds s: " + $stdout.Result + $stderr.Result }
    }

    $child.WaitForExit()
    [pscustomobject]@{ ExitCode = $child.ExitCode; Output = $stdout.Result + $stderr.Result }
}

function Get-StreamText([scriptblock] $Command) {
    # The verbose and warning text a command writes (ShouldProcess writes its What-if/Confirm description as verbose
    # text when it goes ahead under -Verbose), one string; errors are left out, a terminating one is caught.
    $records = try { & $Command *>&1 } catch { $_ }
    (@($records) | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -or $_ -is [System.Management.Automation.WarningRecord] } |
        ForEach-Object Message) -join "`n"
}
