BeforeAll {
    . (Join-Path $PSScriptRoot 'DbSync.Pester.ps1')
}

Describe 'Restore-DbSyncLog' {
    BeforeEach {
        $schema = New-TestSchema
        $db = Copy-Chinook ("restore-" + [guid]::NewGuid().ToString('N').Substring(0, 6) + '.sqlite')
        Start-DbSync -LiteralPath $db -ConnectionString $Pg -Schema $schema -Table Genre | Out-Null
        Start-DbSync -LiteralPath $db -ConnectionString $Pg -Schema $schema -Table Genre | Out-Null
        # The run history is gone from the file; the JSON-lines backup beside it still has both runs.
        Disable-DbSync -LiteralPath $db -Purge -Force | Out-Null
    }
    AfterEach { Remove-TestSchema $schema }

    It 'keeps the password of a connection string given as the path or as -BackupPath out of its What-if and verbose text' {
        (Invoke-ChildPwsh "Restore-DbSyncLog -LiteralPath '$db' -BackupPath '$Pg' -WhatIf -ErrorAction SilentlyContinue").Output |
            Should -Match "What if: Restore run log entries into '.*' from '.*Password=\*\*\*;.*'\."
        $shown = Get-StreamText { Restore-DbSyncLog -LiteralPath $db -BackupPath $Pg -Confirm:$false -Verbose -ErrorAction SilentlyContinue }
        $shown += Get-StreamText { Restore-DbSyncLog -Path $Pg -Confirm:$false -Verbose -ErrorAction SilentlyContinue }
        $shown | Should -Match "from '.*Password=\*\*\*;.*'\."
        $shown | Should -Match "Restore run log entries into '.*Password=\*\*\*;.*' from its backup\."
        $shown | Should -Not -Match ([regex]::Escape((Get-PgPassword)))
    }

    It 'reports with -WhatIf what would be restored and writes nothing' {
        $before = Get-FileHashText $db
        $result = Restore-DbSyncLog -LiteralPath $db -WhatIf
        $result.GetType().FullName | Should -Be 'DbSync.Core.Bookkeeping.RestoreLogResult'
        $result.WhatIf | Should -BeTrue
        $result.Restored | Should -HaveCount 2
        Get-FileHashText $db | Should -Be $before
    }

    It 'restores the runs once; a second restore changes nothing' {
        $result = Restore-DbSyncLog -LiteralPath $db
        $result.Restored | Should -HaveCount 2
        Get-DbSyncLog -LiteralPath $db | Should -HaveCount 2
        $again = Restore-DbSyncLog -LiteralPath $db
        $again.Restored | Should -HaveCount 0
        $again.Skipped | Should -BeGreaterOrEqual 2
    }

    It 'warns about an invalid line with its number and restores the rest' {
        $backup = "$db-dbsync-log.jsonl"
        $lines = @(Get-Content -LiteralPath $backup).Count
        Add-Content -LiteralPath $backup -Value '{"runId": "truncated'
        $result = Restore-DbSyncLog -LiteralPath $db -WarningVariable warnings -WarningAction SilentlyContinue
        $result.Invalid | Should -HaveCount 1
        $result.Invalid[0].Line | Should -Be ($lines + 1)
        $warnings | Should -HaveCount 1
        "$($warnings[0])" | Should -Match "line $($lines + 1)"
        $result.Restored | Should -HaveCount 2
    }

    It 'reads another backup with -BackupPath and throws DbSync.LogBackupNotFound when it is missing' {
        $copy = Join-Path $TestDrive 'elsewhere.jsonl'
        Copy-Item -LiteralPath "$db-dbsync-log.jsonl" -Destination $copy
        (Restore-DbSyncLog -LiteralPath $db -BackupPath $copy).Restored | Should -HaveCount 2
        { Restore-DbSyncLog -LiteralPath $db -BackupPath (Join-Path $TestDrive 'missing.jsonl') } | Should -Throw -ErrorId 'DbSync.LogBackupNotFound,DbSync.PowerShell.Commands.RestoreDbSyncLogCommand'
        { Restore-DbSyncLog -LiteralPath $db -BackupPath 'env:DBSYNC_PESTER_BACKUP' -ErrorAction Stop } | Should -Throw -ErrorId 'DbSync.UsageError,DbSync.PowerShell.Commands.RestoreDbSyncLogCommand'
    }
}
