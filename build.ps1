#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds DbSync and assembles the module folder out/DbSync.
.DESCRIPTION
    Publishes the core library and the dbsync CLI, and copies the module manifest into out/DbSync.
    With -Test it runs the xunit tests and, once they exist, the Pester tests in tests/*.Tests.ps1.
    The compiled cmdlets are added by the PowerShell module issue.
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
if ($LASTEXITCODE) { throw "dotnet publish failed ($LASTEXITCODE)" }

$module = Join-Path $out 'DbSync'
New-Item -ItemType Directory -Force $module | Out-Null
Copy-Item module/* $module -Recurse -Force

if ($Test) {
    if (-not $SkipXunit) {
        dotnet test --nologo
        if ($LASTEXITCODE) { throw "xunit tests failed ($LASTEXITCODE)" }
    }
    $pester = Get-ChildItem tests -Filter *.Tests.ps1 -Recurse
    if ($pester) {
        Import-Module Pester -MinimumVersion 5.0
        $result = Invoke-Pester -Path $pester.FullName -PassThru -Output Detailed
        if ($result.FailedCount) { throw "$($result.FailedCount) Pester test(s) failed" }
    }
}
