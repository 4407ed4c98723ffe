#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds DbSync and assembles the PowerShell module folder out/DbSync.
.DESCRIPTION
    Publishes the dbsync CLI to out/cli and the module to out/DbSync. The module is assembled by the same MSBuild
    target that works without pwsh (src/DbSync.PowerShell/Module.targets):
        dotnet publish src/DbSync.PowerShell -c Release -p:ModuleDir=out/DbSync
    With -Test it runs the xunit tests (unless -SkipXunit) and the Pester tests in tests/*.Tests.ps1 against the
    assembled module. Pester uses the PostgreSQL server in DBSYNC_TEST_PG; without it, a throwaway cluster is
    started with scripts/test-postgres.sh and stopped afterwards.
.PARAMETER Configuration
    Debug or Release.
.PARAMETER Test
    Run the tests after building.
.PARAMETER Clean
    Remove out/ first.
.PARAMETER SkipXunit
    With -Test, run only the Pester tests (CI has already run the xunit tests).
#>
[CmdletBinding()]
param(
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',
    [switch] $Test,
    [switch] $Clean,
    [switch] $SkipXunit
)

$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot
$out = Join-Path $PSScriptRoot 'out'
if ($Clean -and (Test-Path $out)) { Remove-Item $out -Recurse -Force }

dotnet publish src/DbSync.Cli -c $Configuration -o (Join-Path $out 'cli') --nologo
if ($LASTEXITCODE) { throw "dotnet publish src/DbSync.Cli failed ($LASTEXITCODE)" }

$module = Join-Path $out 'DbSync'
dotnet publish src/DbSync.PowerShell -c $Configuration -o (Join-Path $out 'publish/DbSync.PowerShell') "-p:ModuleDir=$module" --nologo
if ($LASTEXITCODE) { throw "dotnet publish src/DbSync.PowerShell failed ($LASTEXITCODE)" }
Test-ModuleManifest (Join-Path $module 'DbSync.psd1') | Out-Null

if ($Test) {
    if (-not $SkipXunit) {
        dotnet test --nologo
        if ($LASTEXITCODE) { throw "xunit tests failed ($LASTEXITCODE)" }
    }

    $pester = Get-ChildItem tests -Filter *.Tests.ps1 -Recurse
    if ($pester) {
        $cluster = $null
        if (-not $env:DBSYNC_TEST_PG) {
            $cluster = Join-Path ([System.IO.Path]::GetTempPath()) ('dbsync-pg-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
            $env:DBSYNC_TEST_PG = bash scripts/test-postgres.sh start $cluster
            if ($LASTEXITCODE) { throw "scripts/test-postgres.sh start failed ($LASTEXITCODE)" }
        }
        try {
            Import-Module Pester -MinimumVersion 5.0
            $config = New-PesterConfiguration
            $config.Run.Path = $pester.FullName
            $config.Run.PassThru = $true
            $config.Output.Verbosity = 'Detailed'
            $config.TestResult.Enabled = $true
            $config.TestResult.OutputPath = Join-Path $out 'test-results/pester.xml'
            $result = Invoke-Pester -Configuration $config
            "Pester: $($result.PassedCount) passed, $($result.FailedCount) failed, $($result.SkippedCount) skipped"
            if ($result.FailedCount -or $result.Result -ne 'Passed') { throw "$($result.FailedCount) Pester test(s) failed" }
        }
        finally {
            if ($cluster) {
                bash scripts/test-postgres.sh stop $cluster
                Remove-Item Env:DBSYNC_TEST_PG
            }
        }
    }
}
